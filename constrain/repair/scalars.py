"""Reading a bare (unquoted) token: number, literal, partial literal at a cut, or a word.

Decisions (see REPAIR-CONVENTIONS.md): `+5` is 5, `.75` is 0.75, `3.` is 3, `-.5` is -0.5; a dangling
exponent (`6.02e`, `1.5e-`) is dropped; `1_000` is 1000 (digit separators, as Python and JS write them);
`0x1F` is 31; digits with a leading zero (`007`, `02134`) are identifiers or codes, so they stay strings
unless a schema asks for a number. `NaN` and `Infinity` in any spelling become null. An ellipsis
(`...`, `…`) where a value belongs is the model eliding items, not a value: it is dropped.
"""
from __future__ import annotations

from typing import Any

# What a bare token turned out to be.
NOVALUE = 0   # nothing to keep (a lone `-`, the start of `tr` at a cut)
LITERAL = 1   # true / false / null and their Python, JS and non-finite spellings
NUMBER = 2    # a number; the raw text is kept for a schema that wants a string
ZEROS = 3     # digits with a leading zero: a string, or an integer if the schema says so
WORD = 4      # any other bare word: a string

_LITERALS: dict[str, Any] = {
    "true": True, "True": True, "TRUE": True,
    "false": False, "False": False, "FALSE": False,
    "null": None, "None": None, "NULL": None, "Null": None, "undefined": None,
}
_NONFINITE = frozenset({"nan", "+nan", "-nan", "infinity", "+infinity", "-infinity", "inf", "+inf", "-inf"})
# Partial literals completed at a cut (rule 5: at least three characters).
_COMPLETABLE = ("true", "false", "null", "True", "False", "None", "Infinity", "-Infinity", "undefined")
_HEX = frozenset("0123456789abcdefABCDEF")


def _digits(s: str, i: int, allowed: frozenset[str] | str = "0123456789") -> int:
    """End of the run of digits (with `_` separators) starting at `i`."""
    n = len(s)
    while i < n and (s[i] in allowed or s[i] == "_"):
        i += 1
    return i


def _clean(run: str) -> str | None:
    """Digits without separators, or None when a `_` is not between two digits."""
    if "_" not in run:
        return run
    if run.startswith("_") or run.endswith("_") or "__" in run:
        return None
    return run.replace("_", "")


def parse_number(tok: str) -> tuple[int, Any]:
    """(NUMBER, value), (ZEROS, int value) or (WORD, None) for a whitespace-free token."""
    s = tok
    sign = ""
    if s[:1] in ("+", "-"):
        sign, s = s[0], s[1:]
    if not s:
        return WORD, None
    if s[:2] in ("0x", "0X"):
        body = _clean(s[2:])
        if body and all(c in _HEX for c in body):
            value = int(body, 16)
            return NUMBER, -value if sign == "-" else value
        return WORD, None
    n = len(s)
    i = _digits(s, 0)
    int_part = s[:i]
    frac_part = ""
    has_frac = False
    if i < n and s[i] == ".":
        j = _digits(s, i + 1)
        frac_part = s[i + 1:j]
        has_frac = bool(frac_part)
        i = j
    exp_part = ""
    if i < n and s[i] in "eE":
        j = i + 1
        if j < n and s[j] in "+-":
            j += 1
        k = _digits(s, j)
        exp_part = s[i + 1:k] if k > j else ""   # a dangling `e`/`e-` is dropped
        i = k
    if i != n or not (int_part or frac_part):
        return WORD, None
    ip = _clean(int_part)
    fp = _clean(frac_part)
    ep = _clean(exp_part.lstrip("+-")) if exp_part else ""
    if ip is None or fp is None or ep is None or (exp_part and not ep):
        return WORD, None
    if len(ip) > 1 and ip[0] == "0":
        if has_frac or exp_part:
            return WORD, None
        return ZEROS, int(sign + ip) if sign != "+" else int(ip)
    try:
        if has_frac or exp_part:
            exponent = "e" + exp_part[0] + ep if exp_part[:1] in ("+", "-") else "e" + ep if ep else ""
            text = f"{'-' if sign == '-' else ''}{ip or '0'}{'.' + fp if fp else ''}{exponent}"
            return NUMBER, float(text)
        return NUMBER, int(ip) * (-1 if sign == "-" else 1)
    except ValueError:          # more digits than int() accepts: keep the text
        return WORD, None


def classify(tok: str, at_cut: bool) -> tuple[int, Any]:
    """What a stripped bare token means; `at_cut` when the text ends inside it (truncation rules 5, 6)."""
    if not tok or tok in ("-", "+", ".", "...", "\u2026"):
        return NOVALUE, None
    lit = _LITERALS.get(tok, _LITERALS)
    if lit is not _LITERALS:
        return LITERAL, lit
    if tok.lower() in _NONFINITE:
        return LITERAL, None
    kind, value = parse_number(tok)
    if kind != WORD:
        return kind, value
    if at_cut:
        for word in _COMPLETABLE:
            if word.startswith(tok):
                if len(tok) >= 3 or (word[0] == "-" and len(tok) >= 4):
                    return LITERAL, _LITERALS.get(word)
                return NOVALUE, None
    return WORD, tok

