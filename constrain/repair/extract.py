"""Finding the value in a model's answer: fences, `<json>` tags, a `json` label, prose around it.

Order of decisions:
1. A text that starts with `{` or `[` is the document itself (fences are not searched, so a string
   value holding a Markdown code block stays intact).
2. `<json>...</json>` tags, then fenced blocks: JSON-labelled blocks (```` ```json ````, `~~~jsonc`...),
   else unlabelled ones; blocks in another language are never read. Several blocks with a value
   give an array of their values, in order.
3. Otherwise the text is prose: every `{` and `[` is a candidate, probed by a parser that gives up at
   the first prose-like reading; the longest run of clean values wins. If no probe is clean, the
   first candidate that yields something JSON-like is read with full tolerance.
Probing is budgeted (a constant times the text length), so the search is linear.
"""
from __future__ import annotations

import html
import re
from typing import Any

from .chars import CLOSERS, QUOTES, WS_RE, skip_ws_comments
from .errors import RepairError
from .parser import Abort, Parser
from .scalars import NOVALUE, WORD, classify
from .schema import SchemaGuide
from .strings import TOP, quoted_then, scan_string

_FENCE_RUN = re.compile(r"`{3,}|~{3,}")
_CANDIDATE = re.compile(r"[{\[]")
_LABEL = re.compile(r"(?i)json5?c?l?\b[ \t]*:?")
_HTML = re.compile(r"(?i)\s*(<!doctype\s+html|<html[\s>]|<\?xml|<head[\s>]|<body[\s>])")
_TAG_OPEN = re.compile(r"(?i)<json>")
_TAG_CLOSE = re.compile(r"(?i)</json>")
_JSON_LANGS = frozenset({"json", "json5", "jsonc", "jsonl", "ndjson", "jsonlines", "geojson"})
_MAX_CLOSER_LOOKS = 64


class _Block:
    __slots__ = ("lang", "start", "end")

    def __init__(self, lang: str, start: int, end: int):
        self.lang = lang
        self.start = start
        self.end = end


def _trim(t: str, s: int, e: int) -> tuple[int, int]:
    s = WS_RE.match(t, s, e).end()
    while e > s and not t[e - 1].strip("\ufeff\u200b\u200c\u200d\u2060\u180e\u00ad\u00a0 \t\r\n"):
        e -= 1
    return s, e


def _alone_before(t: str, i: int) -> bool:
    """Only spaces between the start of the line and `i`."""
    k = i - 1
    while k >= 0 and t[k] in " \t":
        k -= 1
    return k < 0 or t[k] == "\n"


def _alone_after(t: str, i: int) -> bool:
    """Only spaces between `i` and the end of the line."""
    n = len(t)
    while i < n and t[i] in " \t\r":
        i += 1
    return i >= n or t[i] == "\n"


def _fences(t: str) -> list[_Block]:
    """Fenced blocks, in order; an unclosed fence runs to the end of the text."""
    runs = [(m.start(), m.end()) for m in _FENCE_RUN.finditer(t)]
    blocks: list[_Block] = []
    i = 0
    while i < len(runs):
        s, e = runs[i]
        if not _alone_before(t, s):              # an opening fence starts its line (else it is content)
            i += 1
            continue
        ch, length = t[s], e - s
        line_end = t.find("\n", e)
        line_end = len(t) if line_end < 0 else line_end
        info = t[e:line_end].strip()
        word = re.match(r"[A-Za-z0-9_+.#-]*", info).group(0) if info else ""
        if info == word:                         # ```json<newline>: content starts on the next line
            content = min(line_end + 1, len(t))
        else:                                    # ```{"a": 1}``` or ```json {"a": 1}```
            word = word if info[len(word):len(word) + 1].isspace() else ""
            content = t.index(info, e) + len(word)
        # the closing fence: same character, at least as long; prefer one alone on its line
        close = None
        first_inline = None
        for j in range(i + 1, min(len(runs), i + 1 + _MAX_CLOSER_LOOKS)):
            rs, re_ = runs[j]
            if rs < content or t[rs] != ch or re_ - rs < length:
                continue
            if _alone_before(t, rs) and _alone_after(t, re_):
                close = j
                break
            if first_inline is None:
                first_inline = j
        if close is None:
            close = first_inline
        if close is None:
            blocks.append(_Block(word.lower(), content, len(t)))
            break
        blocks.append(_Block(word.lower(), content, runs[close][0]))
        i = close + 1
    return blocks


def _unescape_document(doc: str) -> str:
    """One level of JSON string escaping removed (`{\\"a\\": 1}` -> `{"a": 1}`)."""
    value, _, _ = scan_string('"' + doc + '"', 0, len(doc) + 2, TOP)
    return value


def _looks_escaped(t: str, s: int, e: int) -> bool:
    """Every `"` is backslash-escaped (and there is at least one): a whole document escaped once.

    Escaped means an odd run of backslashes before it (`\\"`, `\\\\\\"`); after an even run
    (`'a\\\\"b'`, a backslash then a quote inside a single-quoted string) the quote is bare."""
    i = t.find('"', s, e)
    if i < 0:
        return False
    while i >= 0:
        k = i
        while k > s and t[k - 1] == "\\":
            k -= 1
        if (i - k) % 2 == 0:
            return False
        i = t.find('"', i + 1, e)
    return True


class Extractor:
    """Locates and parses the value(s) in one answer."""

    def __init__(self, guide: SchemaGuide | None):
        self.guide = guide
        self.budget = [0]            # the strict decoder's budget, shared by every parser of one answer

    def run(self, t: str) -> Any:
        self.budget[0] = 4 * len(t) + 4096
        s, e = _trim(t, 0, len(t))
        if s >= e:
            raise RepairError("empty output: there is no JSON value", 0)
        e = len(t)           # trailing spaces may be the content of a string cut at the end
        m = _TAG_OPEN.search(t, s, e)
        if m:
            close = _TAG_CLOSE.search(t, m.end(), e)
            values = self.document(t, m.end(), close.start() if close else e, depth=0, required=False)
            if values:
                return values[0] if len(values) == 1 else values
        if _HTML.match(t, s, e):
            raise RepairError("the output is an HTML page, not JSON", s)
        values = self.answer(t, s, e)
        return values[0] if len(values) == 1 else values

    def answer(self, t: str, s: int, e: int) -> list[Any]:
        """Values of an answer that may be fenced or wrapped in prose."""
        first = skip_ws_comments(t, s, e)          # a leading `// comment` does not hide the document
        if first < e and t[first] in "{[":
            return self.document(t, first, e, depth=0)
        blocks = _fences(t[:e]) if _FENCE_RUN.search(t, s, e) else []
        if blocks:
            chosen = [b for b in blocks if b.lang in _JSON_LANGS or b.lang.startswith("json")]
            if not chosen:
                chosen = [b for b in blocks if not b.lang]
            values = []
            for b in chosen:
                found = self.document(t, b.start, b.end, depth=0, required=False)
                if found:
                    values.append(found[0] if len(found) == 1 else found)
            if values:
                return values
            masked = list(t[:e])
            for b in blocks:                      # other languages: not part of the answer
                masked[b.start:b.end] = " " * (b.end - b.start)
            t2 = "".join(masked)
            langs = sorted({b.lang for b in blocks if b.lang and b not in chosen})
            what = f"the code blocks are {', '.join(langs)}, not JSON, and the prose around them has none" \
                if langs else None
            return self.prose(t2, s, e, what=what)
        return self.document(t, s, e, depth=0)

    def document(self, t: str, s: int, e: int, depth: int, required: bool = True) -> list[Any]:
        """Values of a region meant to be JSON (a whole answer, a block's content)."""
        full_end = e
        s, e = _trim(t, s, e)
        if s >= e:
            if required:
                raise RepairError("empty output: there is no JSON value", s)
            return []
        while s < e and t[s] == "`":               # stray inline-code backticks
            s += 1
        trimmed = e
        while e > s and t[e - 1] in "`;":
            e -= 1
        s, e = _trim(t, s, e)
        parse_end = full_end if e == trimmed else e   # a string cut at the end may end in spaces
        if s >= e:
            if required:
                raise RepairError("no JSON value, only backticks", s)
            return []
        m = _LABEL.match(t, s, e)
        if m:                                     # a leftover `json` label before the value
            after = WS_RE.match(t, m.end(), e).end()
            if after < e and t[after] in "{[\"'":
                s = after
        if depth < 2 and t[s] == "'" and e - s > 2 and t[e - 1] == "'":
            i, j = _trim(t, s + 1, e - 1)
            if i < j and t[i] in "{[" and t[j - 1] in "}]":   # a whole document in single quotes
                inner = t[i:j]
                if "\\'" in inner:
                    inner = inner.replace("\\'", "'")
                return self.document(inner, 0, len(inner), depth + 1, required)
        if depth < 2 and t[s] in "{[" and _looks_escaped(t, s, e):
            inner = _unescape_document(t[s:e])
            return self.document(inner, 0, len(inner), depth + 1, required)
        if depth < 2 and t[s] in "{[" and "&quot;" in t[s:e] and '"' not in t[s:e]:
            inner = html.unescape(t[s:e])           # an HTML-escaped document
            return self.document(inner, 0, len(inner), depth + 1, required)
        if depth < 2 and t[s] == '"' and e - s > 2 and t[e - 1] == '"':
            i, j = _trim(t, s + 1, e - 1)
            if i < j and t[i] in "{[" and t[j - 1] in "}]" and not _looks_escaped(t, i, j):
                return self.document(t, i, j, depth + 1, required)   # `"{"a": 1}"`: quotes around it
        c = t[s]
        if c in "{[" or (c == "(" and t[e - 1] == ")"):
            p = Parser(t, s, parse_end, self.guide, strict_budget=self.budget)
            values, _ = p.parse_group()
            if values and p.evidence == 0:          # `[INST] ... {"a": 1}`: prose in brackets first?
                better = self.prose(t, s, parse_end, required=False, fallback=False)
                if better:
                    return better
            return values
        if c == '"' and quoted_then(t, s, parse_end, ":", False, cut=False):
            p = Parser(t, s, parse_end, self.guide, implicit_object=True, strict_budget=self.budget)   # `"a": 1, "b": 2}`
            values, _ = p.parse_group()
            return values
        if c in QUOTES:
            value, pos, closed = scan_string(t, s, parse_end, TOP)
            # a cut string is a value, but `"abc" is the answer` (a closer inside, prose after) is not
            if (closed or not any(ch in CLOSERS[c] for ch in t[s + 1:e])) and \
                    WS_RE.match(t, pos, parse_end).end() >= parse_end:
                return [self.guide.string(self.guide.root, value) if self.guide else value]
        else:
            tok = t[s:e]
            if not any(ch.isspace() for ch in tok):
                kind, value = classify(tok, True)
                if kind == NOVALUE:
                    if not required:
                        return []
                    raise RepairError(f"no JSON value: {tok!r} is not a complete value", s)
                if kind != WORD:
                    p = Parser(t, s, e, self.guide, strict_budget=self.budget)
                    found, value, _ = p.parse_value(s)
                    if found:
                        return [value]
        return self.prose(t, s, parse_end, required=required)

    def prose(self, t: str, s: int, e: int, what: str | None = None, required: bool = True,
              fallback: bool = True) -> list[Any]:
        """The best value among the candidates in prose (see the module docstring)."""
        budget = 8 * (e - s) + 4096
        best: list[Any] = []
        best_span = -1
        pos = s
        search = _CANDIDATE.search
        while budget > 0:
            m = search(t, pos, e)
            if m is None:
                break
            c0 = m.start()
            p = Parser(t, c0, e, self.guide, probe=True, strict_budget=self.budget)
            try:
                values, end = p.parse_group()
            except Abort as a:
                budget -= a.pos - c0 + 1
                pos = c0 + 1
                continue
            budget -= end - c0 + 1
            # bracketed words next to the answer (`[/INST] {...}`) are not part of it
            values = [v for v, ev in zip(values, p.value_evidence) if ev]
            if values and end - c0 > best_span:
                best, best_span = values, end - c0
            pos = max(end, c0 + 1)
        if best or not fallback:
            return best
        pos = s
        budget = 8 * (e - s) + 4096
        while budget > 0:                        # nothing clean: the first JSON-like reading
            m = search(t, pos, e)
            if m is None:
                break
            c0 = m.start()
            p = Parser(t, c0, e, self.guide, strict_budget=self.budget)
            values, end = p.parse_group()
            budget -= end - c0 + 1
            if values and p.evidence > 0:
                return values
            pos = c0 + 1
        if not required:
            return []
        if what is None:
            kind = "prose" if any(ch.isalpha() for ch in t[s:e]) else "text"
            what = f"the output is {kind} with no object or array in it"
        raise RepairError(f"no JSON value found: {what}", s)
