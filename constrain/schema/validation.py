"""`jsonschema` validators that cannot hang or reach the network: `local_validator(cls, schema)`.

jsonschema resolves a `$ref` to another document by fetching it (urllib) unless given a registry:
a schema could make the compiler (filtering enum values) or the strategies (validating an output)
open a connection. Here the registry refuses every retrieval, so such a `$ref` is unresolvable.

jsonschema evaluates `pattern`, `patternProperties` (and the names `additionalProperties` leaves to
them) with Python's backtracking `re.search`, which takes exponential time on patterns such as
`^(a|aa)*$` against `"aaa...!"`. The compiler filters enum values with a validator and the
strategies check free (repaired) outputs with one, so a hostile schema or output could hang either.
Here the same keywords search with the `regex` module (Python's `re` syntax and semantics) under a
timeout; a search that does not finish in `PATTERN_SECONDS` counts as a failure, so a value is
never called valid without being checked (undecided means invalid).
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import jsonschema
import regex
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.exceptions import NoSuchResource

from .formats import FORMAT_CHECKER

PATTERN_SECONDS = 0.25  # one search; legitimate patterns on JSON-sized strings take microseconds


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> Any:
    """The pattern compiled by `regex`, or by `re` when only `re` reads it (no timeout then: `re`
    rejects nothing `regex` reads but a few spellings, which cannot hang on their own)."""
    try:
        return regex.compile(pattern)
    except (regex.error, OverflowError, ValueError):
        return re.compile(pattern)


def search(pattern: str, text: str) -> bool | None:
    """Does `pattern` find a match in `text` (as `re.search`)? None: undecided within the timeout."""
    compiled = _compiled(pattern)
    try:
        if isinstance(compiled, re.Pattern):
            return compiled.search(text) is not None
        return compiled.search(text, timeout=PATTERN_SECONDS) is not None
    except TimeoutError:
        return None


def _undecided(pattern: str, text: str) -> ValidationError:
    return ValidationError(f"{text[:40]!r}: pattern {pattern!r} could not be checked within {PATTERN_SECONDS} s "
                           "(treated as not matching)")


def _pattern(validator, pattern: str, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string"):
        found = search(pattern, instance)
        if found is None:
            yield _undecided(pattern, instance)
        elif not found:
            yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator, patterns: dict, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for name, value in instance.items():
            found = search(pattern, name)
            if found is None:
                yield _undecided(pattern, name)
            elif found:
                yield from validator.descend(value, subschema, path=name, schema_path=pattern)


def _additional_properties(validator, extra: Any, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    declared = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = []
    for name in instance:
        if name in declared:
            continue
        found = [search(p, name) for p in patterns]
        if None in found and True not in found:
            yield _undecided("|".join(patterns), name)
        elif True not in found:
            extras.append(name)
    if validator.is_type(extra, "object"):
        for name in extras:
            yield from validator.descend(instance[name], extra, path=name)
    elif extra is False and extras:
        yield ValidationError(f"additional properties {sorted(extras)!r} are not allowed")


def _extend(cls: type) -> type:
    replaced = {"pattern": _pattern, "patternProperties": _pattern_properties,
                "additionalProperties": _additional_properties}
    return jsonschema.validators.extend(cls, {k: f for k, f in replaced.items() if k in cls.VALIDATORS})


# built at import: creating a class runs attrs' generated code, which must not happen mid-compilation
_CLASSES = {cls: _extend(cls) for cls in (jsonschema.Draft4Validator, jsonschema.Draft6Validator,
                                          jsonschema.Draft7Validator, jsonschema.Draft201909Validator,
                                          jsonschema.Draft202012Validator)}


def validator_class(cls: type) -> type:
    """`cls` (a jsonschema validator class) with its regex keywords searched under a timeout."""
    if cls not in _CLASSES:
        _CLASSES[cls] = _extend(cls)
    return _CLASSES[cls]


def _refuse(uri: str) -> Any:
    raise NoSuchResource(ref=uri)


LOCAL_ONLY = Registry(retrieve=_refuse)


def local_validator(cls: type, schema: Any) -> Any:
    """A validator of `cls`'s draft for `schema`: regex keywords under a timeout, formats asserted
    (`FORMAT_CHECKER`, whatever the draft), references resolved inside `schema` only."""
    return validator_class(cls)(schema, format_checker=FORMAT_CHECKER,
                                registry=LOCAL_ONLY)
