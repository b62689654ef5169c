"""Numbers: bounds and `multipleOf` as exact regexes over the spellings `jsonschema` will read.

Python reads a JSON number without `.`/`e` as an `int` (compared exactly with a bound) and any other
as the nearest `float` (compared after rounding: with `exclusiveMaximum: 100`, `99.99999999999999999`
reads as `100.0` and is invalid). So the two families get different thresholds: integers the bound
itself, floats the midpoint between the bound's neighbouring doubles (rounding is monotone, so
"rounds into the range" is "lies beyond that midpoint"). Thresholds are decimals; one with more than
25 significant digits is rounded inwards, which only refuses spellings longer than any `json.dumps`.

Layout (the `number` type with bounds or `multipleOf`): integers as digits; floats as `json.dumps`
writes them, a plain decimal `I.F` or one nonzero digit, optional fraction and an exponent (`1e-05`,
`1.5e+20`, `E`, no sign, leading zeros in the exponent allowed). `multipleOf`: an integer step is a
residue automaton over the digits (values written as integers); `1.0` is "an integer below 1e308";
another integral float step is exact for |value| < 2**52 (beyond, `jsonschema`'s float division is
not), so values are limited to that; a fractional step (0.01) keeps the decimals with at most its
number of fraction digits that `jsonschema` accepts (float division again: 0.07 is not a multiple of
0.01 for it), enumerated between finite bounds, at most `MAX_STEPS` of them; else unsupported.
"""
from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from fractions import Fraction
from functools import lru_cache

from ..automaton.product import NOTHING, compact, intersect
from ..automaton.regex import EMPTY, Automaton, CharSet, Node, Repeat, literal
from .errors import SchemaError, UnsupportedSchemaError
from .nodes import alt, byte_trie, cat, charset, fixed_range, parse

MAX_STEPS = 20_000  # fractional multipleOf: candidates enumerated between the bounds
MAX_MODULUS = 10_000  # integer multipleOf: states of the residue automaton
_SIG = 25  # significant digits kept in a float threshold


def _dec_digit(lo: int, hi: int) -> CharSet:
    return charset((0x30 + lo, 0x30 + hi))


_NAT = parse("0|[1-9][0-9]*")
_FRAC = parse(r"\.[0-9]+")
_EXP = parse(r"[eE][+-]?[0-9]+")
INTEGER = cat(Repeat(literal("-"), 0, 1), _NAT)
NUMBER = cat(INTEGER, Repeat(_FRAC, 0, 1), Repeat(_EXP, 0, 1))
_DIGITS = Repeat(_dec_digit(0, 9), 0, None)
_ZERO_FRACTION = parse(r"\.0+")
_SMALL = 10 ** 15 - 1  # integers also written with a zero fraction: |value| <= _SMALL
_MANTISSA = parse(r"[1-9](?:\.[0-9]+)?")


def _nat_range(lo: int, hi: int | None) -> Node | None:
    """Decimal naturals without leading zeros in [lo, hi] (hi None: unbounded)."""
    if hi is not None and hi < lo:
        return None
    parts = []
    width = 1
    while True:
        wlo, whi = (0 if width == 1 else 10 ** (width - 1)), 10 ** width - 1
        if hi is not None and wlo > hi:
            break
        if hi is None and lo <= wlo and width > 1:
            parts.append(cat(_dec_digit(1, 9), Repeat(_dec_digit(0, 9), width - 1, None)))
            break
        a, b = max(lo, wlo), (whi if hi is None else min(hi, whi))
        if a <= b:
            parts.append(fixed_range(a, b, width, 10, _dec_digit))
        width += 1
    return alt(parts)


@lru_cache(maxsize=4096)
def int_range(lo: int | None, hi: int | None) -> Node | None:
    """Integers in [lo, hi] (None: unbounded), canonical decimal (no `-0`). Cached (trees are
    immutable): every integer schema asks for the zero-fraction range up to 1e15, ~2 ms to build."""
    parts = []
    if hi is None or hi >= 0:
        pos = _nat_range(max(lo, 0) if lo is not None else 0, hi)
        if pos is not None:
            parts.append(pos)
    if lo is None or lo < 0:
        neg = _nat_range(max(-(hi if hi is not None else -1), 1), None if lo is None else -lo)
        if neg is not None:
            parts.append(cat(literal("-"), neg))
    return alt(parts)


_NUMBER_KW = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def bounds(schema: dict, ptr: str):
    """((lower, exclusive) | None, (upper, exclusive) | None), draft-4 boolean exclusives included."""
    for key in _NUMBER_KW:
        if key in schema and (not isinstance(schema[key], (int, float)) or
                              (isinstance(schema[key], bool) and key.startswith("m"))):
            raise SchemaError(f"{key} must be a number", f"{ptr}/{key}")
    lows, highs = [], []
    for key, ex_key, out in (("minimum", "exclusiveMinimum", lows), ("maximum", "exclusiveMaximum", highs)):
        v = schema.get(key)
        if v is not None:
            out.append((v, schema.get(ex_key) is True, key))
        v = schema.get(ex_key)
        if v is not None and not isinstance(v, bool):
            out.append((v, True, ex_key))
    for v, _, key in lows + highs:
        if (isinstance(v, float) and not math.isfinite(v)) or abs(v) > 10 ** 30:  # math.isfinite(10**400) overflows
            raise UnsupportedSchemaError("bounds beyond 1e30 are not supported", f"{ptr}/{key}")
    lo = max(lows, key=lambda b: (Fraction(b[0]), b[1])) if lows else None
    hi = min(highs, key=lambda b: (Fraction(b[0]), not b[1])) if highs else None
    if lo and hi and (Fraction(lo[0]) > Fraction(hi[0]) or (lo[0] == hi[0] and (lo[1] or hi[1]))):
        raise SchemaError("no number lies between the bounds", f"{ptr}/{lo[2]}")
    return lo, hi


def _int_bounds(lo, hi) -> tuple[int | None, int | None]:
    """The integer range the bounds allow (exact: Python compares ints with floats exactly)."""
    ilo = ihi = None
    if lo is not None:
        f = Fraction(lo[0])
        ilo = math.floor(f) + 1 if lo[1] else math.ceil(f)
    if hi is not None:
        f = Fraction(hi[0])
        ihi = math.ceil(f) - 1 if hi[1] else math.floor(f)
    return ilo, ihi


def integer_pattern(schema: dict, ptr: str) -> Node | None:
    """The integers within the bounds and `multipleOf` (None: there are none), also written with a
    zero fraction (`1.0` is an integer to JSON Schema) below 1e15, where the float Python reads is the
    integer itself (beyond 2**53 rounding would move it across a bound or a multiple)."""
    lo, hi = bounds(schema, ptr)
    ilo, ihi = _int_bounds(lo, hi)
    node = int_range(ilo, ihi)
    if node is None:
        return None
    small = int_range(max(ilo, -_SMALL) if ilo is not None else -_SMALL, min(ihi, _SMALL) if ihi is not None else _SMALL)
    if "multipleOf" in schema:
        node = _multiple(schema, ptr, lo, hi, node, integers_only=True)
        small = None if node is None or small is None else intersect([node, small])
    if small is None or small is NOTHING:
        return node
    return alt([node, cat(small, _ZERO_FRACTION)])


def number_pattern(schema: dict, ptr: str) -> Node | None:
    """The numbers within the bounds and `multipleOf` (None: there are none)."""
    lo, hi = bounds(schema, ptr)
    if "multipleOf" in schema:
        return _multiple(schema, ptr, lo, hi, int_range(*_int_bounds(lo, hi)), integers_only=False)
    if lo is None and hi is None:
        return NUMBER
    return alt([n for n in (int_range(*_int_bounds(lo, hi)), _floats(lo, hi)) if n is not None])


# ---------------------------------------------------------------- floats between thresholds

def _lower_threshold(bound) -> tuple[Decimal, bool]:
    """(t, inclusive): a float spelling x reads as a valid value iff x >= t (x > t if not inclusive)."""
    v, exclusive = Fraction(bound[0]), bound[1]
    d = float(v)
    if Fraction(d) < v or (exclusive and Fraction(d) == v):
        d = math.nextafter(d, math.inf)
    mid = (Fraction(math.nextafter(d, -math.inf)) + Fraction(d)) / 2
    return _rounded(mid, ROUND_CEILING, float(mid) >= d)


def _upper_threshold(bound) -> tuple[Decimal, bool]:
    v, exclusive = Fraction(bound[0]), bound[1]
    d = float(v)
    if Fraction(d) > v or (exclusive and Fraction(d) == v):
        d = math.nextafter(d, -math.inf)
    mid = (Fraction(d) + Fraction(math.nextafter(d, math.inf))) / 2
    return _rounded(mid, ROUND_FLOOR, float(mid) <= d)


def _rounded(mid: Fraction, rounding: str, inclusive: bool) -> tuple[Decimal, bool]:
    """`mid` (a dyadic rational, so a finite decimal) kept to _SIG digits, rounded inwards."""
    k = mid.denominator.bit_length() - 1
    exact = Decimal(f"{mid.numerator * 5 ** k}E-{k}")
    with localcontext() as ctx:
        ctx.prec, ctx.rounding = _SIG, rounding
        t = +exact
    return t, inclusive if t == exact else True


def _split(t: Decimal) -> tuple[str, str]:
    """Integer digits and fraction digits (no trailing zeros) of |t|."""
    text = format(abs(t), "f")
    whole, _, frac = text.partition(".")
    return whole, frac.rstrip("0")


def _frac_cmp(f: str, op: str) -> Node | None:
    """Fraction digit strings F (at least one digit) with 0.F `op` 0.f."""
    zeros = len(f) - len(f.lstrip("0"))
    s = f[zeros:]
    if op in ("ge", "gt"):
        if not s:
            return cat(_dec_digit(0, 9), _DIGITS) if op == "ge" else cat(_DIGITS, _dec_digit(1, 9), _DIGITS)
        tail: Node | None = _DIGITS if op == "ge" else cat(_DIGITS, _dec_digit(1, 9), _DIGITS)
        for c in reversed(s):  # C(i) = (digit > s_i) any | s_i C(i+1)
            d = int(c)
            parts = [cat(literal(c), tail)] if tail is not None else []
            if d < 9:
                parts.append(cat(_dec_digit(d + 1, 9), _DIGITS))
            tail = alt(parts)
        parts = [cat(literal("0" * zeros), tail)]
        if zeros:
            parts.append(cat(Repeat(literal("0"), 0, zeros - 1), _dec_digit(1, 9), _DIGITS))
        return alt(parts)
    all_zero = Repeat(literal("0"), 1, None)
    if not s:
        return all_zero if op == "le" else None
    tail = Repeat(literal("0"), 0, None) if op == "le" else None
    for k in range(len(s) - 1, -1, -1):  # C(i) = end | (digit < s_i) any | s_i C(i+1)
        d = int(s[k])
        parts = [cat(literal(s[k]), tail)] if tail is not None else []
        if d > 0:
            parts.append(cat(_dec_digit(0, d - 1), _DIGITS))
        if k:  # ending early reads as smaller (s ends in a nonzero digit); not before any digit
            parts.append(EMPTY)
        tail = alt(parts)
    return alt([all_zero] + ([cat(literal("0" * zeros), tail)] if tail is not None else []))


def _exp_range(lo: int | None, hi: int | None) -> Node | None:
    """Exponent spellings `[eE][+-]?digits` whose value is in [lo, hi] (None: unbounded)."""
    parts = []
    zeros = Repeat(literal("0"), 0, None)
    nonneg = _nat_range(max(lo, 0) if lo is not None else 0, hi)
    if nonneg is not None:
        parts.append(cat(Repeat(literal("+"), 0, 1), zeros, nonneg))
    if lo is None or lo < 0:  # values -1 and below: "-" and a magnitude
        neg = _nat_range(1 if hi is None or hi >= -1 else -hi, None if lo is None else -lo)
        if neg is not None:
            parts.append(cat(literal("-"), zeros, neg))
    if (lo is None or lo <= 0) and (hi is None or hi >= 0):
        parts.append(cat(literal("-"), Repeat(literal("0"), 1, None)))
    body = alt(parts)
    return None if body is None else cat(charset((0x45, 0x45), (0x65, 0x65)), body)


def _magnitudes(t: Decimal, op: str) -> Node | None:
    """Unsigned float spellings (plain `I.F`, or exponent form) whose value M satisfies M `op` t (t >= 0)."""
    whole, frac = _split(t)
    a = int(whole)
    parts = []
    if op in ("ge", "gt"):
        above = _nat_range(a + 1, None)
        if above is not None:
            parts.append(cat(above, _FRAC))
    else:
        below = _nat_range(0, a - 1)
        if below is not None:
            parts.append(cat(below, _FRAC))
    f = _frac_cmp(frac, op)
    if f is not None:
        parts.append(cat(literal(whole), literal("."), f))
    if t == 0:  # exponent forms are never zero
        if op in ("ge", "gt"):
            parts.append(cat(_MANTISSA, _EXP))
        return alt(parts)
    e = t.adjusted()
    digits = (whole.lstrip("0") + frac).lstrip("0")
    m0, mfrac = digits[0], digits[1:].rstrip("0")
    if op in ("ge", "gt"):
        parts.append(cat(_MANTISSA, _exp_range(e + 1, None)))
        same = [cat(_dec_digit(int(m0) + 1, 9), Repeat(_FRAC, 0, 1))] if m0 != "9" else []
        ff = _frac_cmp(mfrac, op)
        if ff is not None:
            same.append(cat(literal(m0), literal("."), ff))
        if op == "ge" and not mfrac:
            same.append(literal(m0))
    else:
        parts.append(cat(_MANTISSA, _exp_range(None, e - 1)))
        same = [cat(_dec_digit(1, int(m0) - 1), Repeat(_FRAC, 0, 1))] if m0 != "1" else []
        ff = _frac_cmp(mfrac, op)
        if ff is not None:
            same.append(cat(literal(m0), literal("."), ff))
        if op == "le" or mfrac:
            same.append(literal(m0))
    if same:
        parts.append(cat(alt(same), _exp_range(e, e)))
    return alt(parts)


_ANY_MAGNITUDE = alt([cat(_NAT, _FRAC), cat(_MANTISSA, _EXP)])


def _side(lo_t, hi_t, negative: bool) -> Node | None:
    """Float spellings of one sign within the thresholds ((t, inclusive) | None each), unsigned."""
    conds = []
    for t, lower in ((lo_t, True), (hi_t, False)):
        if t is None:
            continue
        v, inclusive = t
        if negative:  # -M >= v  <=>  M <= -v, and so on
            v, lower = -v, not lower
        op = ("ge" if inclusive else "gt") if lower else ("le" if inclusive else "lt")
        if v < 0 or (v == 0 and op == "lt"):
            if lower:
                continue  # M >= negative: every magnitude
            return None  # M <= negative, or M < 0: none
        if v == 0 and op == "ge":
            continue
        conds.append(_magnitudes(v, op))
    if any(c is None for c in conds):
        return None
    if not conds:
        return _ANY_MAGNITUDE
    if len(conds) == 1:
        return conds[0]
    node = intersect(conds)
    return None if node is NOTHING else node


def _floats(lo, hi) -> Node | None:
    lo_t = _lower_threshold(lo) if lo is not None else None
    hi_t = _upper_threshold(hi) if hi is not None else None
    pos, neg = _side(lo_t, hi_t, False), _side(lo_t, hi_t, True)
    return alt(([pos] if pos is not None else []) + ([cat(literal("-"), neg)] if neg is not None else []))


# ---------------------------------------------------------------- multipleOf

def _multiple(schema: dict, ptr: str, lo, hi, ints: Node | None, integers_only: bool) -> Node | None:
    step = schema["multipleOf"]
    where = f"{ptr}/multipleOf"
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not step > 0 or \
            (isinstance(step, float) and not math.isfinite(step)):  # math.isfinite(10**400) overflows
        raise SchemaError("multipleOf must be a number > 0", where)
    if isinstance(step, int) or step == int(step) and step <= 2 ** 52:
        n = int(step)
        if ints is None:
            return None
        if isinstance(step, float) and n != 1:  # float division is exact below 2**52
            ints = intersect([ints, int_range(-2 ** 52 + 1, 2 ** 52 - 1)])
        elif isinstance(step, float):  # n / 1.0 overflows from about 1.8e308
            ints = intersect([ints, parse("-?(?:0|[1-9][0-9]{0,307})")])
        if n == 1 or ints is NOTHING:
            return None if ints is NOTHING else ints
        if n > MAX_MODULUS:
            raise UnsupportedSchemaError(f"multipleOf above {MAX_MODULUS}", where)
        node = intersect([ints, _residue(n)])
        return None if node is NOTHING else node
    return _fractional_steps(step, lo, hi, where, integers_only)


def _residue(n: int) -> Automaton:
    """Integer spellings (`-`? digits, no leading zero) of multiples of n: a state per residue."""
    # states: 0 start, 1 after "-", 2 "0" read, 3 + r: a nonzero number read so far, residue r
    edges: list[list[tuple[int, int, int]]] = [[(0x2D, 0x2D, 1), (0x30, 0x30, 2)], [], [], ]
    edges[1] = [(0x30, 0x30, 2)]
    for first in (0, 1):
        edges[first] += [(0x30 + d, 0x30 + d, 3 + d % n) for d in range(1, 10)]
    for r in range(n):
        edges.append([(0x30 + d, 0x30 + d, 3 + (r * 10 + d) % n) for d in range(10)])
    merged = []
    for row in edges:
        out: list[tuple[int, int, int]] = []
        for a, b, t in sorted(row):
            if out and out[-1][2] == t and out[-1][1] + 1 == a:
                out[-1] = (out[-1][0], b, t)
            else:
                out.append((a, b, t))
        merged.append(tuple(out))
    return Automaton(0, tuple(merged), frozenset({2, 3}))


def _fractional_steps(step: float, lo, hi, where: str, integers_only: bool) -> Node | None:
    """The values k / 10**p between finite bounds that `jsonschema` counts as multiples of `step`."""
    text = repr(step)
    if "e" in text or "." not in text:
        raise UnsupportedSchemaError(f"multipleOf {step}: only steps written with a few decimals", where)
    p = len(text.split(".")[1])
    if lo is None or hi is None:
        raise UnsupportedSchemaError(f"multipleOf {step} without both bounds (jsonschema's float "
                                     "division makes the multiples irregular)", where)
    scale = 10 ** p
    klo = math.ceil(Fraction(lo[0]) * scale) - 1  # one more each side: the bound's float may be just
    khi = math.floor(Fraction(hi[0]) * scale) + 1  # below 99.99, while float("99.99") is the bound
    if khi - klo + 1 > MAX_STEPS:
        raise UnsupportedSchemaError(f"multipleOf {step}: more than {MAX_STEPS} candidates between the bounds",
                                     where)
    words = []
    for k in range(klo, khi + 1):
        if k % scale == 0:
            value: int | float = k // scale
            word = str(value)
        elif integers_only:
            continue
        else:
            word = f"{'-' if k < 0 else ''}{abs(k) // scale}.{abs(k) % scale:0{p}d}".rstrip("0")
            value = float(word)
        if _in(value, lo, hi) and _jsonschema_multiple(value, step):
            words.append(word)
    if not words:
        return None
    return compact(_trie(words))


def _trie(words: list[str]) -> Automaton:
    """The finite set of ASCII `words` as a (deterministic) trie automaton."""
    children, ends = byte_trie(words)
    return Automaton(0, tuple(tuple((b, b, t) for b, t in sorted(row.items())) for row in children),
                     frozenset(ends))


def _in(value, lo, hi) -> bool:
    ok_lo = value > lo[0] if lo[1] else value >= lo[0]
    ok_hi = value < hi[0] if hi[1] else value <= hi[0]
    return ok_lo and ok_hi


def _jsonschema_multiple(value, step: float) -> bool:
    quotient = value / step
    return int(quotient) == quotient
