"""The one error the repairer raises on purpose: there is no value to recover, and where we looked."""
from __future__ import annotations

from ..errors import ConstrainError


class RepairError(ConstrainError, ValueError):
    """No JSON value could be recovered; `offset` is the 0-based character offset the message is about.

    A subclass of `ValueError` so that callers already catching `json.JSONDecodeError`'s base class
    keep working when they switch from `json.loads` to `repair_json`.
    """

    def __init__(self, message: str, offset: int):
        self.reason = message
        self.offset = offset
        super().__init__(f"{message} (at character offset {offset})")
