"""Scanning quoted strings, deciding which quote really closes them.

A model often leaves inner quotes unescaped (`"She said "yes" now"`). A candidate closing quote is
taken as the end of the string only when what follows makes sense after a string in that place (a
colon after a key; a comma and the next member, a closer or the end after a value). Every look-ahead
is bounded (`WINDOW` characters), so scanning stays linear in the length of the text.
"""
from __future__ import annotations

from .chars import CLOSERS, FULLWIDTH, QUOTES, STRING_SPECIAL, WS_RE, skip_ws_comments

# Where the string stands; decides what may follow its closing quote.
KEY, OBJ_VALUE, ARR_VALUE, TOP = range(4)
WINDOW = 1024
_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "'": "'"}
_HEXDIGITS = frozenset("0123456789abcdefABCDEF")
_WORD_STOP = frozenset(" \t\r\n:,{}[]()\uff0c\uff1a") | QUOTES
_LITERAL_STARTS = ("true", "false", "null", "True", "False", "None")


def _is_hex(s: str) -> bool:
    return bool(s) and all(c in _HEXDIGITS for c in s)


def quoted_then(t: str, k: int, end: int, follow: str, too_long: bool, cut: bool = True) -> bool:
    """Is the quoted string opening at `k` followed by one of `follow`? A text cut inside or right
    after the string answers `cut`; one longer than the window answers `too_long`."""
    closers = CLOSERS.get(t[k], t[k])
    limit = min(end, k + 1 + WINDOW)
    p = k + 1
    while p < limit:
        ch = t[p]
        if ch == "\\":
            p += 2
            continue
        if ch in closers:
            q = WS_RE.match(t, p + 1, min(end, p + 1 + WINDOW)).end()
            return cut if q >= end else FULLWIDTH.get(t[q], t[q]) in follow
        if ch == "\n" and not too_long:
            return False          # keys do not span lines
        p += 1
    return cut if limit >= end else too_long


def ident_key_at(t: str, k: int, end: int) -> bool:
    """Is there an unquoted key (`name:`) at `k`?"""
    limit = min(end, k + WINDOW)
    p = k
    while p < limit and t[p] not in _WORD_STOP:
        p += 1
    if p == k:
        return False
    q = WS_RE.match(t, p, min(end, p + WINDOW)).end()
    return q < end and t[q] in ":\uff1a" and not t.startswith("//", q + 1)   # `https://` is no key


def bare_item_at(t: str, k: int, end: int) -> bool:
    """Is there a bare array item (`green`) at `k`, ending at `,` `]` or the end with no quote in it?"""
    limit = min(end, k + WINDOW)
    p = k
    while p < limit:
        ch = t[p]
        if ch in ",]}\n":
            return True
        if ch in QUOTES:
            return False
        p += 1
    return limit >= end


def closes(t: str, j: int, end: int, ctx: int, in_tuple: bool) -> bool:
    """Does the quote at `j` close the string, judging by what follows it?"""
    k = WS_RE.match(t, j + 1, end).end()
    if k >= end:
        return True
    c = t[k]
    c = FULLWIDTH.get(c, c)
    gap = k > j + 1
    newline = gap and "\n" in t[j + 1:k]
    if c in "}]`" or (c == ")" and in_tuple):
        return True
    if c == "/" and k + 1 < end and t[k + 1] in "/*":
        return True
    if c == "#" and gap:
        return True
    if ctx == KEY:
        return c in ":,=" or c in QUOTES or newline or c.isdigit() or c in "-{["
    if c == ";":                              # `;` separates only if a member clearly follows
        k2 = WS_RE.match(t, k + 1, end).end()
        return k2 < end and ((t[k2] in QUOTES and quoted_then(t, k2, end, ":", False)) or ident_key_at(t, k2, end))
    if c == ",":
        k2 = skip_ws_comments(t, k + 1, end)
        if k2 >= end:
            return True
        d = t[k2]
        if d in "}]),{[`;":
            return True
        if d in QUOTES:
            return ctx != OBJ_VALUE or quoted_then(t, k2, end, ":,}]", True)
        if ctx == OBJ_VALUE:
            return ident_key_at(t, k2, end)
        if ctx == ARR_VALUE:
            return bare_item_at(t, k2, end)
        return True
    if c == ":":
        return ctx == ARR_VALUE
    if c in QUOTES:                           # a missing comma has at least a space before the next key
        if ctx == OBJ_VALUE:
            return gap and quoted_then(t, k, end, ":", False)
        return gap
    if ctx == OBJ_VALUE:
        return gap and ident_key_at(t, k, end)
    if ctx == ARR_VALUE:
        return c.isdigit() or c in "-+{[" or t.startswith(_LITERAL_STARTS, k)
    return newline or c in "{["


def _split_before(t: str, j: int, end: int, ctx: int) -> bool:
    """At an inner quote after `, `: does a new member (object) or item (array) start here?"""
    if ctx == OBJ_VALUE:
        return quoted_then(t, j, end, ":", False)
    return quoted_then(t, j, end, ",]", False)


def _cut(s: str) -> str:
    """Content of a string cut at the end: a lone high surrogate is half a character, not content."""
    return s[:-1] if s and "\ud800" <= s[-1] <= "\udbff" else s


def scan_string(t: str, pos: int, end: int, ctx: int, in_tuple: bool = False) -> tuple[str, int, bool]:
    """Read the string whose opening quote is at `pos`: (content, position after it, closed?).

    Escapes follow JSON (`\\'` too); any other `\\X` keeps its backslash. At a cut the partial content
    is kept, minus a dangling backslash or a partial `\\uXX` escape. When an inner quote after `, `
    starts what is clearly the next member, the string ends at that comma (its closing quote was
    missing) and the returned position is the comma's.
    """
    closers = CLOSERS[t[pos]]
    special = STRING_SPECIAL[t[pos]].search
    parts: list[str] = []
    i = pos + 1
    while True:
        m = special(t, i, end)
        if m is None:
            parts.append(t[i:end])
            return _cut("".join(parts)), end, False
        j = m.start()
        if j > i:
            parts.append(t[i:j])
        if t[j] == "\\":
            if j + 1 >= end:                       # dangling backslash at the cut
                return _cut("".join(parts)), end, False
            e = t[j + 1]
            simple = _SIMPLE.get(e)
            if simple is not None:
                parts.append(simple)
                i = j + 2
            elif e == "u":
                h = t[j + 2:min(j + 6, end)]
                if len(h) == 4 and _is_hex(h):
                    cp = int(h, 16)
                    i = j + 6
                    if 0xD800 <= cp <= 0xDBFF and t.startswith("\\u", i) and i + 6 <= end and _is_hex(t[i + 2:i + 6]):
                        lo = int(t[i + 2:i + 6], 16)
                        if 0xDC00 <= lo <= 0xDFFF:
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                            i += 6
                    parts.append(chr(cp))
                elif j + 2 + len(h) >= end and (not h or _is_hex(h)):
                    return _cut("".join(parts)), end, False  # partial \u escape at the cut
                else:
                    parts.append("\\u")
                    i = j + 2
            else:
                parts.append("\\" + e)
                i = j + 2
            continue
        if t[j] in closers and closes(t, j, end, ctx, in_tuple):
            return "".join(parts), j + 1, True
        if ctx != TOP:
            k = j - 1
            while k > pos and t[k] in " \t\r\n":
                k -= 1
            if k > pos:
                p = t[k]
                if ctx == KEY:
                    cut = p == ":" and k > pos + 1 and "\n" not in t[k:j]   # `{"name: "Ann"}`
                elif p == ",":
                    cut = _split_before(t, j, end, ctx)                    # `"John, "age": 30`
                else:                                                      # `"text\n  "next": 1`
                    cut = ctx == OBJ_VALUE and "\n" in t[k:j] and quoted_then(t, j, end, ":", False)
                    k += 1
                if cut:      # the closing quote was missing: end the string before `t[k:j]` (raw layout)
                    s = "".join(parts)
                    return s[:len(s) - (j - k)], k, True
        parts.append(t[j])
        i = j + 1
