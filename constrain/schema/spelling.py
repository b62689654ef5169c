"""JSON string spellings: a regex over decoded characters -> the regex over the bytes between the quotes.

Every character may be written raw (UTF-8; `"`, `\\` and controls excepted), as a short escape, as
`\\uXXXX` in either case, or as a surrogate pair; the translation keeps all of them, so a constraint
on the decoded content is exact whatever escaping the writer chose. Lengths are counted in characters
(code points), each one spelling of `CHAR`. Property names take one spelling only, `json.dumps`'s
(`dumps=True`): a bijection, so sets of names can be intersected and complemented as spellings.
"""
from __future__ import annotations

from functools import lru_cache

from ..automaton import regex as rx
from ..automaton.product import intersect
from ..automaton.regex import Alt, CharSet, Concat, Node, Repeat, literal
from .nodes import ANY_CHAR, alt, cat, fixed_range, intersect as intersect_ranges

MAX_STATES = 100_000  # automaton states of one string terminal (a length bound of about 5000)

_HEX_CHARS = "0123456789abcdef"


def _hex_digit(lo: int, hi: int, upper: bool = True) -> CharSet:
    chars = [(ord(_HEX_CHARS[v]),) * 2 for v in range(lo, hi + 1)]
    if upper:
        chars += [(ord(_HEX_CHARS[v].upper()),) * 2 for v in range(max(lo, 10), hi + 1)]
    return CharSet(rx.normalize(chars))


def _hex4(lo: int, hi: int, upper: bool = True) -> Node:
    return fixed_range(lo, hi, 4, 16, lambda a, b: _hex_digit(a, b, upper))


def _u(node: Node) -> Node:
    return cat(literal("\\u"), node)


_SHORT_ESCAPES = {0x22: '\\"', 0x5C: "\\\\", 0x2F: "\\/", 0x08: "\\b", 0x0C: "\\f", 0x0A: "\\n",
                  0x0D: "\\r", 0x09: "\\t"}
_DUMPS_SHORT = {cp: esc for cp, esc in _SHORT_ESCAPES.items() if cp != 0x2F}
_NEEDS_ESCAPE: rx.Ranges = ((0, 0x1F), (0x22, 0x22), (0x5C, 0x5C))
PLAIN: rx.Ranges = ((0x20, 0x21), (0x23, 0x5B), (0x5D, 0x7E))  # written raw by json.dumps



def encode_charset(ranges: rx.Ranges, plain_ascii: bool = False, dumps: bool = False) -> Node:
    """All JSON string spellings of one character of `ranges` (raw, short escape, \\u, surrogate pair);
    with `plain_ascii`, printable ASCII characters that need no escape only raw (as `json.dumps`); with
    `dumps`, only the spelling `json.dumps` writes (printable ASCII raw, short escapes but `\\/`,
    lowercase `\\u` for the rest)."""
    ranges = intersect_ranges(ranges, ANY_CHAR)
    raw = intersect_ranges(ranges, PLAIN if dumps else rx.complement(_NEEDS_ESCAPE))
    parts: list[Node] = []
    if raw:
        parts.append(CharSet(raw))
    if plain_ascii or dumps:
        ranges = intersect_ranges(ranges, rx.complement(PLAIN))
    short = _DUMPS_SHORT if dumps else _SHORT_ESCAPES
    for cp, esc in short.items():
        if intersect_ranges(ranges, ((cp, cp),)):
            parts.append(literal(esc))
    if dumps:
        ranges = intersect_ranges(ranges, rx.complement(rx.normalize([(cp, cp) for cp in short])))
    upper = not dumps
    for lo, hi in ranges:
        if lo <= 0xFFFF:
            parts.append(_u(_hex4(lo, min(hi, 0xFFFF), upper)))
        if hi >= 0x10000:
            lo = max(lo, 0x10000)
            h1, l1 = 0xD800 + ((lo - 0x10000) >> 10), 0xDC00 + ((lo - 0x10000) & 0x3FF)
            h2, l2 = 0xD800 + ((hi - 0x10000) >> 10), 0xDC00 + ((hi - 0x10000) & 0x3FF)
            if h1 == h2:
                parts.append(cat(_u(_hex4(h1, h1, upper)), _u(_hex4(l1, l2, upper))))
                continue
            parts.append(cat(_u(_hex4(h1, h1, upper)), _u(_hex4(l1, 0xDFFF, upper))))
            if h1 + 1 <= h2 - 1:
                parts.append(cat(_u(_hex4(h1 + 1, h2 - 1, upper)), _u(_hex4(0xDC00, 0xDFFF, upper))))
            parts.append(cat(_u(_hex4(h2, h2, upper)), _u(_hex4(0xDC00, l2, upper))))
    out = alt(parts)
    return out if out is not None else CharSet(())


def encode_content(node: Node, plain_ascii: bool = False, dumps: bool = False) -> Node:
    """A regex on decoded string content -> the regex on its JSON spelling (between the quotes)."""
    if isinstance(node, CharSet):
        return encode_charset(node.ranges, plain_ascii, dumps)
    if isinstance(node, Concat):
        return Concat(tuple(encode_content(n, plain_ascii, dumps) for n in node.items))
    if isinstance(node, Alt):
        return Alt(tuple(encode_content(n, plain_ascii, dumps) for n in node.items))
    return Repeat(encode_content(node.item, plain_ascii, dumps), node.min, node.max)


def quoted(content: Node) -> Node:
    return cat(literal('"'), encode_content(content), literal('"'))


ANY_STRING = quoted(Repeat(CharSet(ANY_CHAR), 0, None))


CHAR = encode_charset(ANY_CHAR)  # one character, any spelling (a prefix code: the unit lengths count)
NAME = Repeat(encode_charset(ANY_CHAR, dumps=True), 0, None)  # any property name, as json.dumps spells it


@lru_cache(maxsize=256)
def spelled(content: str, plain_ascii: bool = False) -> Node:
    """The spellings of the strings a decoded-content regex (our parser's syntax) matches."""
    return encode_content(rx.parse(content), plain_ascii)


def length_limited(nodes: tuple[Node, ...], lo: int, hi: int | None) -> Node:
    """Spellings matching every node (spelling-level) with lo..hi characters: one automaton.
    Raises `LimitError` when that automaton would be too big."""
    return intersect(list(nodes), unit=CHAR, count=(lo, hi), max_states=MAX_STATES)
