"""Type-strict equality of JSON values: how a repaired value is checked against the expected one."""
from __future__ import annotations

import math
from typing import Any


def json_equal(a: Any, b: Any) -> bool:
    """Deep equality where 1, 1.0 and True differ and so do 0.0 and -0.0; dict order does not
    matter (as in JSON). Iterative, so deep values do not hit the recursion limit."""
    todo = [(a, b)]
    while todo:
        x, y = todo.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, dict):
            if x.keys() != y.keys():
                return False
            todo.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            todo.extend(zip(x, y))
        elif isinstance(x, float):
            if not (x == y and math.copysign(1, x) == math.copysign(1, y)):
                return False
        elif x != y:
            return False
    return True
