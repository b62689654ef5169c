"""Small builders of regex syntax trees shared by the string and number translations."""
from __future__ import annotations

from functools import lru_cache

from ..automaton import regex as rx
from ..automaton.regex import EMPTY, Alt, Automaton, CharSet, Concat, Node, Repeat, literal

MAX_REPEAT = 1000  # largest string length / item count bound we unroll
ANY_CHAR: rx.Ranges = ((0, 0xD7FF), (0xE000, rx.MAX_CODEPOINT))  # every code point JSON text may hold


def charset(*ranges) -> CharSet:
    return CharSet(rx.normalize(ranges))


def cat(*items: Node) -> Node:
    return Concat(tuple(items))


def alt(items: list[Node]) -> Node | None:
    items = list(dict.fromkeys(items))
    if not items:
        return None
    return items[0] if len(items) == 1 else Alt(tuple(items))


def parse(pattern: str) -> Node:
    return rx.parse(pattern)


def fixed_range(lo: int, hi: int, width: int, base: int, digit) -> Node:
    """Fixed-width digit strings (leading zeros included) whose value is in [lo, hi]."""
    if width == 0:
        return EMPTY
    unit = base ** (width - 1)
    a, b = divmod(lo, unit)
    c, d = divmod(hi, unit)
    if a == c:
        return cat(digit(a, a), fixed_range(b, d, width - 1, base, digit))
    parts = []
    if b == 0:
        first = a
    else:
        parts.append(cat(digit(a, a), fixed_range(b, unit - 1, width - 1, base, digit)))
        first = a + 1
    if d == unit - 1:
        last = c
    else:
        last = c - 1
    if first <= last:
        parts.append(cat(digit(first, last), fixed_range(0, unit - 1, width - 1, base, digit)))
    if d != unit - 1:
        parts.append(cat(digit(c, c), fixed_range(0, d, width - 1, base, digit)))
    return alt(parts)



def intersect(a: rx.Ranges, b: rx.Ranges) -> rx.Ranges:
    out = []
    for lo, hi in a:
        for lo2, hi2 in b:
            if max(lo, lo2) <= min(hi, hi2):
                out.append((max(lo, lo2), min(hi, hi2)))
    return rx.normalize(out)


def words_except(words: list[str], alphabet: rx.Ranges = ANY_CHAR) -> Node:
    """Strings over `alphabet` other than `words`: a proper prefix of the words that is not a word,
    or a prefix followed by a character that leaves the trie of words, then anything. The "then
    anything" is one loop shared by every way out of the trie, so all texts that have left it end
    in the same automaton state (a loop per trie node made each a lexer state of its own, with its
    own walk of the whole vocabulary)."""
    usable = {c for c in set("".join(words)) if intersect(((ord(c), ord(c)),), alphabet)}
    ws = [w for w in dict.fromkeys(words) if all(c in usable for c in w)]
    if alphabet[-1][1] < 0x80:  # one byte per character (property names as json.dumps writes them)
        return _ascii_words_except(tuple(ws), alphabet)
    inside, out = _trie(ws, False, alphabet), _trie(ws, True, alphabet)
    if out is not None:
        out = cat(out, Repeat(CharSet(alphabet), 0, None))
    parts = [p for p in (inside, out) if p is not None]
    return alt(parts) or CharSet(())


@lru_cache(maxsize=256)
def _ascii_words_except(words: tuple[str, ...], alphabet: rx.Ranges) -> Automaton:
    """`words_except` over one-byte characters, as the byte automaton itself: a state per node of the
    trie of words, accepting where no word ends, and one state for every text that has left the
    trie. The tree spelling the same language has several automaton states per trie node, and as a
    fresh tree per object schema it was hashed node by node (with its building, ~40% of turning a
    typical object schema into a grammar); an `Automaton` is hashed by identity, so equal calls are
    cached to give the same node."""
    children, ends = byte_trie(words)
    out = len(children)
    rows = []
    for kids in children:
        row = []
        for lo, hi in alphabet:
            for b in sorted(k for k in kids if lo <= k <= hi):
                if lo < b:
                    row.append((lo, b - 1, out))
                row.append((b, b, kids[b]))
                lo = b + 1
            if lo <= hi:
                row.append((lo, hi, out))
        rows.append(tuple(row))
    rows.append(tuple((lo, hi, out) for lo, hi in alphabet))
    return Automaton(0, tuple(rows), frozenset(set(range(out + 1)) - ends), trim=True)


def byte_trie(words) -> tuple[list[dict[int, int]], set[int]]:
    """The trie of the UTF-8 bytes of `words`: per node its children by byte (node 0 the root), and
    the nodes where a word ends."""
    children: list[dict[int, int]] = [{}]
    ends = set()
    for w in words:
        s = 0
        for b in w.encode():
            if b not in children[s]:
                children[s][b] = len(children)
                children.append({})
            s = children[s][b]
        ends.add(s)
    return children, ends


def _trie(ws: list[str], leave: bool, alphabet: rx.Ranges) -> Node | None:
    """`words_except`'s two halves over the trie of `ws`: the proper prefixes that are not words
    (not `leave`), or the prefixes followed by a character that leaves the trie (`leave`). A module
    function, not a closure: a recursive closure is a reference cycle, garbage for the collector."""
    heads: dict[str, list[str]] = {}
    for w in ws:
        if w:
            heads.setdefault(w[0], []).append(w[1:])
    parts: list[Node] = []
    if not leave and "" not in ws:
        parts.append(EMPTY)
    if leave:
        other = _other_than(frozenset(heads), alphabet)
        if other is not None:
            parts.append(other)
    for h, rest in heads.items():
        below = _trie(rest, leave, alphabet)
        if below is not None:
            parts.append(cat(literal(h), below))
    if len(parts) < 2:  # the parts differ by construction: no need for `alt`'s dedup (hashing)
        return parts[0] if parts else None
    return Alt(tuple(parts))


# a trie of names meets the same few characters and head sets again and again (chains of one head)
@lru_cache(maxsize=4096)
def _other_than(heads: frozenset[str], alphabet: rx.Ranges) -> CharSet | None:
    """The characters of `alphabet` other than `heads`."""
    other = intersect(rx.complement(rx.normalize([(ord(h), ord(h)) for h in heads])), alphabet)
    return CharSet(other) if other else None
