"""`pattern`: a regex search over the decoded string, read so that both judges agree.

JSON Schema says ECMA-262; `jsonschema` (which decides validity here) runs Python's `re.search`.
The two differ on classes: Python's `\\d \\w \\s` are Unicode, ECMA's `\\d \\w` are ASCII and its `\\s`
another Unicode set; `.` excludes only `\\n` in Python, also `\\r \\u2028 \\u2029` in ECMA; Python's `$`
also matches before a final newline. We enforce the strings both readings accept: every class is
the intersection of its two readings (`[^\\s]` excludes both kinds of space, `\\d` is `[0-9]`), `.`
is ECMA's, `$` is the end. Sound for either validator, exact for ECMA's.

A search is `.*(pattern).*` with the `.*` dropped where the pattern is anchored: a top-level branch
may start with `^` and end with `$` (`^a$|^b$` is two anchored branches). Anchors anywhere else,
lookaround, backreferences and inline flags raise `UnsupportedSchemaError` naming the position in
the pattern as written.
"""
from __future__ import annotations

import re
from functools import lru_cache

from ..automaton import regex as rx
from ..automaton.regex import CharSet, Node, Repeat
from ..errors import RegexError, UnsupportedRegexError
from .errors import UnsupportedSchemaError
from .nodes import ANY_CHAR, alt, cat, intersect

_ECMA_SPACE: rx.Ranges = rx.normalize([(0x09, 0x0D), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680),
                                       (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F),
                                       (0x205F, 0x205F), (0x3000, 0x3000), (0xFEFF, 0xFEFF)])
_ECMA_DOT = "[^\\n\\r\\u2028\\u2029]"


def _readings(letter: str) -> tuple[rx.Ranges, rx.Ranges]:
    """(Python's, ECMA's) code points of a class escape."""
    base = letter.lower()
    ecma = _ECMA_SPACE if base == "s" else rx.class_escape(base, unicode=False)
    py = rx.class_escape(base, unicode=True)
    if letter.isupper():
        return rx.complement(py), rx.complement(ecma)
    return py, ecma


def _union(a: rx.Ranges, b: rx.Ranges) -> rx.Ranges:
    return rx.normalize(list(a) + list(b))


def _ranges_text(ranges: rx.Ranges) -> str:
    return "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges)


def _translate(p: str) -> tuple[str, list[int]]:
    """The pattern with classes, escapes and `.` made explicit (see the module docs), and for each
    character of the result the position in `p` it comes from."""
    out: list[tuple[str, int]] = []
    i = 0
    while i < len(p):
        c = p[i]
        if c == "\\" and i + 1 < len(p):
            e = p[i + 1]
            if e in "dDwWsS":
                py, ecma = _readings(e)
                out.append((f"[{_ranges_text(intersect(py, ecma))}]", i))
            else:
                out.append((p[i:i + 2], i))
            i += 2
        elif c == "[":
            i = _translate_class(p, i, out)
        elif c == ".":
            out.append((_ECMA_DOT, i))
            i += 1
        elif c == "(" and p.startswith("(?", i) and i + 2 < len(p) and p[i + 2] in "aiLmsux-":
            raise UnsupportedSchemaError(f"inline flags (not ECMA-262) at position {i}", "")
        else:
            out.append((c, i))
            i += 1
    text, origin = [], []
    for piece, pos in out:
        text.append(piece)
        origin += [pos] * len(piece)
    return "".join(text), origin + [len(p)]


def _translate_class(p: str, i: int, out: list[tuple[str, int]]) -> int:
    """Copy the class at `p[i]`, its escapes \\d\\w\\s... replaced by the agreed ranges; return its end."""
    start = i
    i += 1
    negated = p.startswith("^", i)
    i += negated
    items, escapes = [], []
    first = True
    while i < len(p) and (p[i] != "]" or first):
        first = False
        if p[i] == "\\" and i + 1 < len(p):
            if p[i + 1] in "dDwWsS":
                escapes.append(p[i + 1])
            else:
                items.append(p[i:i + 2])
            i += 2
        else:
            items.append(p[i])
            i += 1
    py: rx.Ranges = ()
    ecma: rx.Ranges = ()
    for e in escapes:
        a, b = _readings(e)
        py, ecma = _union(py, a), _union(ecma, b)
    # positive: in both readings; negated: excluded by either reading
    extra = _union(py, ecma) if negated else intersect(py, ecma)
    if items and items[0] == "]":  # a leading "]" is a literal; it is no longer leading below
        items[0] = "\\]"
    body = _ranges_text(extra) + "".join(items)  # ranges first: a trailing "-" stays literal
    if not body:  # only escapes, and the readings share nothing: no character, or every one
        body, negated = "\\x00-\\U0010ffff", not negated
    out.append(("[" + "^" * negated + body + "]", start))
    return i + 1


def _structure(text: str, i: int, end: int):
    """(index, character, group depth after it) of each character of `text[i:end]` outside escapes
    and character classes."""
    depth, in_class = 0, False
    while i < end:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        else:
            depth += (c == "(") - (c == ")")
            yield i, c, depth
        i += 1


def _branches(text: str, a: int, b: int) -> list[tuple[int, int]]:
    """(start, end) of the top-level alternatives of `text[a:b]`; a branch that is one plain group
    `(...)` or `(?:...)` is replaced by its own alternatives (so `^x$|(^y$)` has two anchored branches)."""
    cuts = [i for i, c, depth in _structure(text, a, b) if c == "|" and depth == 0]
    spans = list(zip([a] + [i + 1 for i in cuts], cuts + [b]))
    out = []
    for x, y in spans:
        inner = x + (3 if text.startswith("(?:", x) else 1)
        if text.startswith("(", x) and text[x + 1:x + 2] != "?" or text.startswith("(?:", x):
            if y - 1 > x and text[y - 1] == ")" and _closing(text, x) == y - 1:
                out += _branches(text, inner, y - 1)
                continue
        out.append((x, y))
    return out


def _closing(text: str, i: int) -> int:
    """Index of the parenthesis closing the group that opens at `text[i]`."""
    return next((j for j, c, depth in _structure(text, i, len(text)) if c == ")" and depth == 0), -1)


def _escaped(text: str, k: int) -> bool:
    """Is `text[k]` escaped (preceded by an odd number of backslashes)?"""
    n = 0
    while k - n - 1 >= 0 and text[k - n - 1] == "\\":
        n += 1
    return n % 2 == 1


@lru_cache(maxsize=512)
def _search(p: str) -> Node:
    """Content regex of the strings in which `p` finds a match; errors carry the position in `p`."""
    try:
        re.compile(p)
    except (re.error, OverflowError) as e:
        raise UnsupportedSchemaError(f"pattern is not a regex Python can compile, so jsonschema cannot "
                                     f"evaluate it ({e})", "") from None
    text, origin = _translate(p)
    anything = Repeat(CharSet(ANY_CHAR), 0, None)
    # branches grouped by their anchors, so `.*` is written once around each group: `.*(?:a|b).*`
    # determinises to a few states per branch position, `.*a.*|.*b.*` to a product of them
    groups: dict[tuple[bool, bool], list[Node]] = {}
    for a, b in _branches(text, 0, len(text)):
        start = text.startswith("^", a)
        end = b > a + start and text[b - 1] == "$" and not _escaped(text, b - 1)
        a, b = a + start, b - end
        try:
            node = rx.parse(f"(?:{text[a:b]})")
        except RegexError as e:
            where = origin[min(max(a + e.position - 3, 0), len(origin) - 1)]
            kind = e.reason if isinstance(e, UnsupportedRegexError) else f"not a regex we read: {e.reason}"
            raise UnsupportedSchemaError(f"pattern: {kind} at position {where}", "") from None
        groups.setdefault((start, end), []).append(node)
    return alt([cat(*([] if start else [anything]), alt(nodes), *([] if end else [anything]))
                for (start, end), nodes in groups.items()])


def pattern_content(p: str, ptr: str) -> Node:
    """The decoded strings `p` finds a match in; `UnsupportedSchemaError` at `ptr` if not enforceable."""
    try:
        return _search(p)
    except UnsupportedSchemaError as e:
        raise UnsupportedSchemaError(e.reason, ptr) from None
