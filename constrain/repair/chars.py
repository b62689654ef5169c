"""Character classes shared by the extractor and the parser, so 'invisible' and 'quote' mean one thing."""
from __future__ import annotations

import re

# Outside strings these are layout, never content: JSON whitespace, other Unicode spaces (NBSP...),
# the BOM and zero-width characters that chat UIs and tokenizers leave behind.
INVISIBLE = "\ufeff\u200b\u200c\u200d\u2060\u180e\u00ad"
SPACES = " \t\n\r\f\v\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
WS_RE = re.compile("[" + SPACES + INVISIBLE + "]*")
WS_CHARS = frozenset(" \t\n\r\f\v\u00a0\u1680\u2028\u2029\u202f\u205f\u3000" + INVISIBLE
                     + "".join(chr(c) for c in range(0x2000, 0x200B)))

# Each opening delimiter and the characters that may close it. `"` strings close only on `"`, so
# apostrophes and typographic quotes inside them are content; smart-quoted strings also accept a
# plain closing quote, because autocorrect often converts only one side.
CLOSERS = {
    '"': '"',
    "'": "'",
    "\u201c": "\u201d\"",       # “ ... ” (or ")
    "\u201d": "\u201d\"",       # ” used as an opener
    "\u201e": "\u201c\u201d\"",  # „ ... “ (German)
    "\u2018": "\u2019'",        # ‘ ... ’
    "\u2019": "\u2019'",        # ’ used as an opener
}
QUOTES = frozenset(CLOSERS)
# Special characters while scanning a string that opened with a given quote: backslash and closers.
STRING_SPECIAL = {q: re.compile("[\\\\" + re.escape(c) + "]") for q, c in CLOSERS.items()}
# Full-width punctuation that CJK answers use between tokens: read as `,` and `:` outside strings.
FULLWIDTH = {"\uff0c": ",", "\uff1a": ":"}


_HEX_VALUE = re.compile(r"#[0-9A-Fa-f]{1,8}(?![\w-])")


def skip_ws_comments(t: str, pos: int, end: int) -> int:
    """First position at or after `pos` that is neither layout nor a comment (`//`, `/* */`, `# `).

    A `#` directly followed by hex digits and then a delimiter starts a value (`#ff0000`, `#42`)."""
    match = WS_RE.match
    while True:
        pos = match(t, pos, end).end()
        if pos >= end:
            return end
        c = t[pos]
        if c == "/" and pos + 1 < end:
            d = t[pos + 1]
            if d == "/":
                nl = t.find("\n", pos, end)
                pos = end if nl < 0 else nl + 1
                continue
            if d == "*":
                close = t.find("*/", pos + 2, end)
                pos = end if close < 0 else close + 2
                continue
        if c == "\\" and pos + 1 < end and t[pos + 1] in "ntr":   # a literal `\n` left between tokens
            pos += 2
            continue
        if c == "#" and not _HEX_VALUE.match(t, pos, end):   # `#ff0000` is a value, `#note` a comment
            nl = t.find("\n", pos, end)
            pos = end if nl < 0 else nl + 1
            continue
        return pos
