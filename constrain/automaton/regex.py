"""Regex text -> a small syntax tree over Unicode code point sets.

We parse regexes ourselves (rather than reuse `re._parser`) because the automaton is built over bytes
and every error must name its position in the pattern. The tree has four node kinds; groups, lazy
quantifiers and anchors at the ends disappear because the whole output must match, so only the
language matters.

Semantics follow Python's `re` with the `ASCII` flag by default (`\\d` is `[0-9]`, `\\w` is
`[A-Za-z0-9_]`, `\\s` is `[ \\t\\n\\r\\f\\v]`), which is what people writing output formats expect;
`(?u)` switches these classes to Unicode. `(?i)`, `(?s)`, `(?x)`, `(?m)` and `(?a)` are supported, inline
and scoped. Backreferences, lookaround, word boundaries and possessive quantifiers cannot be
enforced by a finite automaton and raise `UnsupportedRegexError` at their position.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import RegexError, UnsupportedRegexError

MAX_CODEPOINT = 0x10FFFF
# Groups nested deeper are an `UnsupportedRegexError`: the parser and the automaton builder recurse per level,
# and Python's stack (1000 frames by default, shared with the caller's) must not overflow first.
MAX_GROUP_DEPTH = 100
Ranges = tuple[tuple[int, int], ...]  # sorted, disjoint, non-adjacent inclusive code point ranges


class _Hashed:
    """Where a frozen node keeps its structural hash (`_hash_once`): a slot, not a `__dict__`, so a
    node is one object for the garbage collector to track, not two (caches hold many thousands)."""

    __slots__ = ("_hash",)


def _hash_once(cls: type) -> type:
    """Cache a frozen node's structural hash on it. Nodes key caches and dicts everywhere (`nfa._piece`,
    the schema compiler), and the dataclass hash walks the whole subtree on every call: with the
    cache a subtree is hashed once, so hashing a tree costs O(its new nodes). Equality stays structural;
    copies and pickles carry the fields only (the dataclass's slot state), so they hash anew."""
    structural = cls.__hash__

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:
            h = structural(self)
            object.__setattr__(self, "_hash", h)
            return h

    cls.__hash__ = __hash__
    return cls


@_hash_once
@dataclass(frozen=True, slots=True)
class CharSet(_Hashed):
    ranges: Ranges


@_hash_once
@dataclass(frozen=True, slots=True)
class Concat(_Hashed):
    items: tuple["Node", ...]


@_hash_once
@dataclass(frozen=True, slots=True)
class Alt(_Hashed):
    items: tuple["Node", ...]


@_hash_once
@dataclass(frozen=True, slots=True)
class Repeat(_Hashed):
    item: "Node"
    min: int
    max: int | None  # None: unbounded


@dataclass(frozen=True, eq=False, slots=True)
class Automaton:
    """A deterministic byte automaton standing for a language no small tree spells (an intersection,
    a counted repetition; built by `automaton.product`). Compared by identity: hashing it is O(1)."""

    start: int
    edges: tuple[tuple[tuple[int, int, int], ...], ...]  # per state: (lo byte, hi byte, target state)
    accepting: frozenset[int]
    # a counted repetition `unit{lo,hi}` laid out by level (`product._repeat_units`): (n, lo, hi), state
    # c * n + j is j states into a unit after c units; None for any other automaton
    levels: tuple[int, int, int | None] | None = None
    trim: bool = False  # every state reaches an accepting one (else the NFA builder finds those that do)


Node = CharSet | Concat | Alt | Repeat | Automaton
EMPTY = Concat(())


# ---------------------------------------------------------------- code point sets

def normalize(ranges) -> Ranges:
    """Sort and merge overlapping or adjacent ranges."""
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


def complement(ranges: Ranges) -> Ranges:
    out, nxt = [], 0
    for lo, hi in ranges:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= MAX_CODEPOINT:
        out.append((nxt, MAX_CODEPOINT))
    return tuple(out)


ASCII_DIGIT: Ranges = ((0x30, 0x39),)
ASCII_WORD: Ranges = normalize([(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)])
ASCII_SPACE: Ranges = normalize([(0x09, 0x0D), (0x20, 0x20)])


@lru_cache(maxsize=None)
def _unicode_class(name: str) -> Ranges:
    """Unicode `\\d`, `\\w`, `\\s` as Python's `re` defines them: runs of matches over every
    code point, found by `re` itself in one pass (computed once per process, ~30 ms; the text is
    numpy's view of the code points, as joining a million `chr`s took four times that)."""
    import re

    pattern = re.compile({"d": r"\d+", "w": r"\w+", "s": r"\s+"}[name])
    ranges: list[tuple[int, int]] = []
    for lo, hi in ((0, 0xD7FF), (0xE000, MAX_CODEPOINT)):
        points = np.arange(lo, hi + 1, dtype=np.uint32)
        text = str(points.view(f"<U{len(points)}")[0])
        ranges += [(lo + m.start(), lo + m.end() - 1) for m in pattern.finditer(text)]
    return normalize(ranges)


def class_escape(letter: str, unicode: bool) -> Ranges:
    base = letter.lower()
    if unicode:
        ranges = _unicode_class(base)
    else:
        ranges = {"d": ASCII_DIGIT, "w": ASCII_WORD, "s": ASCII_SPACE}[base]
    return complement(ranges) if letter.isupper() else ranges


_CASED_LIMIT = 0x1E944  # no code point above this has a case mapping


def case_fold(ranges: Ranges) -> Ranges:
    """Close a set under simple case mapping, as case-insensitive matching sees it."""
    extra: list[tuple[int, int]] = []
    for lo, hi in ranges:
        for cp in range(lo, min(hi, _CASED_LIMIT) + 1):
            ch = chr(cp)
            for other in (ch.lower(), ch.upper(), ch.casefold(), ch.swapcase()):
                if len(other) == 1:
                    extra.append((ord(other), ord(other)))
    return normalize(list(ranges) + extra)


# ---------------------------------------------------------------- parser

_SIMPLE_ESCAPES = {"n": 0x0A, "t": 0x09, "r": 0x0D, "f": 0x0C, "v": 0x0B, "a": 0x07}


@dataclass
class _Flags:
    ignorecase: bool = False
    dotall: bool = False
    verbose: bool = False
    unicode: bool = False

    def copy(self) -> "_Flags":
        return _Flags(self.ignorecase, self.dotall, self.verbose, self.unicode)


class _Parser:
    def __init__(self, pattern: str):
        self.p = pattern
        self.i = 0
        self.depth = 0

    # -- helpers
    def error(self, msg: str, pos: int | None = None) -> RegexError:
        return RegexError(msg, self.p, self.i if pos is None else pos)

    def unsupported(self, msg: str, pos: int) -> UnsupportedRegexError:
        return UnsupportedRegexError(msg, self.p, pos)

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.p[j] if j < len(self.p) else ""

    def skip_verbose(self, flags: _Flags) -> None:
        if not flags.verbose:
            return
        while self.i < len(self.p):
            c = self.p[self.i]
            if c in " \t\n\r\f\v":
                self.i += 1
            elif c == "#":
                while self.i < len(self.p) and self.p[self.i] != "\n":
                    self.i += 1
            else:
                return

    # -- grammar: alternation > concatenation > repetition > atom
    def parse(self) -> Node:
        flags = _Flags()
        self.leading_flags(flags)
        node = self.alternation(flags, top=True)
        if self.i < len(self.p):
            raise self.error("unbalanced parenthesis")
        return node

    def leading_flags(self, flags: _Flags) -> None:
        """Global inline flags like `(?i)` at the start apply to the whole pattern."""
        while self.p.startswith("(?", self.i):
            j = self.i + 2
            while j < len(self.p) and self.p[j] in "aiLmsux":
                j += 1
            if j < len(self.p) and self.p[j] == ")" and j > self.i + 2:
                self.apply_flags(self.p[self.i + 2:j], flags, self.i + 2)
                self.i = j + 1
            else:
                return

    def apply_flags(self, letters: str, flags: _Flags, pos: int, on: bool = True) -> None:
        for k, c in enumerate(letters):
            if c == "i":
                flags.ignorecase = on
            elif c == "s":
                flags.dotall = on
            elif c == "x":
                flags.verbose = on
            elif c == "u":
                flags.unicode = on
            elif c == "a":
                flags.unicode = not on
            elif c == "m":
                pass  # anchors are only allowed at the ends, where multiline changes nothing
            else:
                raise self.error(f"unknown flag {c!r}", pos + k)

    def alternation(self, flags: _Flags, top: bool = False) -> Node:
        branches = [self.concatenation(flags, top)]
        while self.peek() == "|":
            self.i += 1
            branches.append(self.concatenation(flags, top))
        return branches[0] if len(branches) == 1 else Alt(tuple(branches))

    def concatenation(self, flags: _Flags, top: bool) -> Node:
        items: list[Node] = []
        start = self.i
        while True:
            self.skip_verbose(flags)
            c = self.peek()
            if c == "" or c == "|" or c == ")":
                break
            if c in "^$" or (c == "\\" and self.peek(1) in ("A", "Z", "z")):
                self.anchor(flags, top, start, items)
                continue
            atom = self.atom(flags)
            items.append(self.quantifiers(atom, flags))
        return items[0] if len(items) == 1 else Concat(tuple(items))

    def anchor(self, flags: _Flags, top: bool, branch_start: int, items: list[Node]) -> None:
        """`^`/`\\A` is fine where nothing was consumed yet, `$`/`\\Z` where nothing may follow."""
        pos = self.i
        is_start = self.peek() == "^" or self.peek(1) == "A"
        self.i += 1 if self.peek() in "^$" else 2
        if is_start:
            if top and not items:
                return
        else:
            self.skip_verbose(flags)
            if top and self.peek() in ("", "|"):
                return
        raise self.unsupported("anchor inside the pattern (the whole output is matched, so only "
                               "a leading ^ or a trailing $ is meaningful)", pos)

    def quantifiers(self, atom: Node, flags: _Flags) -> Node:
        while True:
            self.skip_verbose(flags)
            c, pos = self.peek(), self.i
            if c in ("*", "+", "?"):
                self.i += 1
                lo, hi = {"*": (0, None), "+": (1, None), "?": (0, 1)}[c]
            elif c == "{":
                bounds = self.counted()
                if bounds is None:
                    return atom
                lo, hi = bounds
            else:
                return atom
            if self.peek() == "?":
                self.i += 1  # lazy: same language when the whole output must match
            elif self.peek() == "+":
                raise self.unsupported("possessive quantifier", self.i)
            if isinstance(atom, Repeat) and self.p[pos - 1] in "*+?}":
                raise self.error("multiple repeat", pos)
            atom = Repeat(atom, lo, hi)

    def counted(self) -> tuple[int, int | None] | None:
        """`{m}`, `{m,}`, `{,n}`, `{m,n}`; anything else is a literal `{` (as in Python)."""
        start = self.i
        j = self.p.find("}", start)
        if j < 0:
            return None
        body = self.p[start + 1:j]
        lo_s, sep, hi_s = body.partition(",")
        if not (lo_s.isdigit() or (sep and lo_s == "")) or not (hi_s.isdigit() or hi_s == ""):
            return None
        if not sep and not lo_s:
            return None
        lo = int(lo_s) if lo_s else 0
        hi = (int(hi_s) if hi_s else None) if sep else lo
        if hi is not None and hi < lo:
            raise self.error("min repeat greater than max repeat", start)
        self.i = j + 1
        return lo, hi

    def atom(self, flags: _Flags) -> Node:
        c, pos = self.peek(), self.i
        if c in "*+?":
            raise self.error("nothing to repeat", pos)
        if c == "{" and self.counted_lookahead():
            raise self.error("nothing to repeat", pos)
        if c == "(":
            return self.group(flags)
        if c == "[":
            return self.char_class(flags)
        if c == ".":
            self.i += 1
            return CharSet(((0, MAX_CODEPOINT),) if flags.dotall else complement(((0x0A, 0x0A),)))
        if c == "\\":
            ranges = self.escape(flags, in_class=False)
        else:
            self.i += 1
            ranges = ((ord(c), ord(c)),)
        return self.charset(ranges, flags)

    def counted_lookahead(self) -> bool:
        save = self.i
        try:
            return self.counted() is not None
        finally:
            self.i = save

    def charset(self, ranges: Ranges, flags: _Flags) -> CharSet:
        return CharSet(case_fold(ranges) if flags.ignorecase else ranges)

    def group(self, flags: _Flags) -> Node:
        start = self.i
        self.i += 1
        inner = flags.copy()
        if self.peek() == "?":
            self.i += 1
            c = self.peek()
            if c == ":":
                self.i += 1
            elif c in ("=", "!") or (c == "<" and self.peek(1) in ("=", "!")):
                raise self.unsupported("lookaround assertion", start)
            elif c == "P" and self.peek(1) == "=":
                raise self.unsupported("backreference", start)
            elif c == "P" and self.peek(1) == "<" or c == "<":
                self.i += 2 if c == "P" else 1
                end = self.p.find(">", self.i)
                name = self.p[self.i:end] if end >= 0 else ""
                if end < 0 or not name.isidentifier():
                    raise self.error("bad group name", self.i)
                self.i = end + 1
            elif c == "#":
                end = self.p.find(")", self.i)
                if end < 0:
                    raise self.error("missing ), unterminated comment", start)
                self.i = end + 1
                return EMPTY
            elif c == "(":
                raise self.unsupported("conditional group", start)
            elif c == ">":
                raise self.unsupported("atomic group", start)
            else:
                self.scoped_flags(inner, start)
        self.depth += 1
        if self.depth > MAX_GROUP_DEPTH:
            raise self.unsupported(f"groups nested more than {MAX_GROUP_DEPTH} deep", start)
        node = self.alternation(inner)
        self.depth -= 1
        if self.peek() != ")":
            raise self.error("missing ), unterminated subpattern", start)
        self.i += 1
        return node

    def scoped_flags(self, flags: _Flags, start: int) -> None:
        """`(?i:...)`, `(?-i:...)`; global flags are only allowed at the start."""
        j = self.i
        while j < len(self.p) and self.p[j] not in ":)":
            j += 1
        if j >= len(self.p):
            raise self.error("missing ), unterminated subpattern", start)
        if self.p[j] == ")":
            raise self.error("global flags not at the start of the expression", start)
        on, _, off = self.p[self.i:j].partition("-")
        self.apply_flags(on, flags, self.i)
        self.apply_flags(off, flags, self.i + len(on) + 1, on=False)
        self.i = j + 1

    def escape(self, flags: _Flags, in_class: bool) -> Ranges:
        pos = self.i
        self.i += 1
        c = self.peek()
        if c == "":
            raise self.error("bad escape (end of pattern)", pos)
        self.i += 1
        if c in "dDwWsS":
            return class_escape(c, flags.unicode)
        if c == "0":
            return ((self.octal(),) * 2,)
        if c in _SIMPLE_ESCAPES:
            return ((_SIMPLE_ESCAPES[c],) * 2,)
        if c == "b":
            if in_class:
                return ((0x08, 0x08),)
            raise self.unsupported("word boundary", pos)
        if c == "B":
            raise self.unsupported("word boundary", pos)
        if c in "xuU":
            n = {"x": 2, "u": 4, "U": 8}[c]
            digits = self.p[self.i:self.i + n]
            if len(digits) != n or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise self.error(f"incomplete escape \\{c}{digits}", pos)
            self.i += n
            cp = int(digits, 16)
            if cp > MAX_CODEPOINT or 0xD800 <= cp <= 0xDFFF:
                raise self.error(f"bad escape \\{c}{digits}: not a Unicode scalar value", pos)
            return ((cp, cp),)
        if c == "N":
            if self.peek() != "{" or "}" not in self.p[self.i:]:
                raise self.error("missing {...} after \\N", pos)
            end = self.p.index("}", self.i)
            try:
                cp = ord(unicodedata.lookup(self.p[self.i + 1:end]))
            except KeyError:
                raise self.error("undefined character name", pos) from None
            self.i = end + 1
            return ((cp, cp),)
        if c.isdigit():
            if in_class:
                raise self.error(f"bad escape \\{c}", pos)
            raise self.unsupported("backreference", pos)
        if c == "g" and self.peek() == "<":
            raise self.unsupported("backreference", pos)
        if c.isascii() and c.isalpha():
            raise self.error(f"bad escape \\{c}", pos)
        return ((ord(c), ord(c)),)

    def octal(self) -> int:
        """`\\0`, `\\0NN`: up to two more octal digits."""
        digits = "0"
        while len(digits) < 3 and self.peek() != "" and self.peek() in "01234567":
            digits += self.peek()
            self.i += 1
        return int(digits, 8)

    def char_class(self, flags: _Flags) -> CharSet:
        start = self.i
        self.i += 1
        negate = self.peek() == "^"
        if negate:
            self.i += 1
        items: list[tuple[int, int]] = []
        first = True
        while True:
            c = self.peek()
            if c == "":
                raise self.error("unterminated character set", start)
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            lo_pos = self.i
            lo = self.class_atom(flags)
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.i += 1
                hi = self.class_atom(flags)
                if len(lo) != 1 or len(hi) != 1 or lo[0][0] != lo[0][1] or hi[0][0] != hi[0][1]:
                    raise self.error("bad character range", lo_pos)
                if hi[0][0] < lo[0][0]:
                    raise self.error("bad character range (reversed)", lo_pos)
                items.append((lo[0][0], hi[0][0]))
            else:
                items.extend(lo)
        ranges = normalize(items)
        if flags.ignorecase:
            ranges = case_fold(ranges)
        if negate:
            ranges = complement(ranges)
        return CharSet(ranges)

    def class_atom(self, flags: _Flags) -> Ranges:
        if self.peek() == "\\":
            return self.escape(flags, in_class=True)
        c = self.p[self.i]
        self.i += 1
        return ((ord(c), ord(c)),)


def parse(pattern: str) -> Node:
    """Parse `pattern` into a syntax tree; raise `RegexError` naming the position of any problem."""
    if not isinstance(pattern, str):
        raise TypeError(f"regex pattern must be str, not {type(pattern).__name__}")
    for k, ch in enumerate(pattern):
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise RegexError("lone surrogate in pattern (not encodable as UTF-8)", pattern, k)
    return _Parser(pattern).parse()


@lru_cache(maxsize=4096)
def literal(text: str) -> Node:
    """A node matching exactly `text` (used for choices and fixed strings), one per text while cached:
    a schema's grammar spells its separators and brackets dozens of times, and a node met again is
    hashed already. ASCII characters are one shared node each."""
    return Concat(tuple(_ASCII[o] if (o := ord(c)) < 0x80 else CharSet(((o, o),)) for c in text))


_ASCII = [CharSet(((o, o),)) for o in range(0x80)]
