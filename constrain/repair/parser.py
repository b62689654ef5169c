"""The tolerant JSON parser: an explicit-stack state machine, so depth costs memory, never recursion.

Containers are attached to their parent the moment they open, so at a cut every opened container
stays (truncation rule 1) and finishing at the end of the text needs no unwinding. A key is stored
only together with its value, so a key that never got one simply disappears (rule 3).

In `probe` mode (used to find a value inside prose) the first reading that looks like prose rather
than JSON (a key with spaces and no quotes, a multi-word bare value, a key without a colon, a stray
character) aborts the parse; `severe` counts those readings otherwise, and `evidence` counts what
looks like JSON (quoted strings, colons, numbers, literals).
"""
from __future__ import annotations

import json
import re
from typing import Any

from .chars import FULLWIDTH, QUOTES, WS_CHARS, skip_ws_comments
from .scalars import LITERAL, NOVALUE, NUMBER, WORD, ZEROS, classify
from .schema import SchemaGuide
from .strings import ARR_VALUE, KEY, OBJ_VALUE, TOP, quoted_then, scan_string

S_KEY, S_COLON, S_VALUE, S_COMMA = range(4)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


# Containers that are already strict JSON are read by the C decoder; the state machine handles the rest.
_STRICT = json.JSONDecoder(parse_constant=_reject_constant)
_BARE_STOP = re.compile("[,}\\]{\\[\n\r/#)`\uff0c" + "".join(QUOTES) + "]")
_KEY_STOP = re.compile("[:,}\\]{\\[\n\r=\uff0c\uff1a" + "".join(QUOTES) + "]")
_ABSENT = object()


class Abort(Exception):
    """Raised in probe mode at the first prose-like reading; `pos` is where."""

    def __init__(self, pos: int):
        super().__init__(pos)
        self.pos = pos


class _Frame:
    __slots__ = ("is_obj", "box", "state", "key", "schema", "tuple", "start", "loose")

    def __init__(self, is_obj: bool, box: Any, schema: Any, is_tuple: bool = False, start: int = 0):
        self.start = start
        self.is_obj = is_obj
        self.box = box
        self.state = S_KEY if is_obj else S_VALUE
        self.key: str | None = None
        self.loose = False           # the pending key had no quotes
        self.schema = schema
        self.tuple = is_tuple


_LAYOUT = "".join(WS_CHARS)


def _strip(tok: str) -> str:
    return tok.strip(_LAYOUT)


class Parser:
    """Parses the value(s) in `text[start:end]`; see `parse_group`."""

    def __init__(self, text: str, start: int, end: int, guide: SchemaGuide | None = None, probe: bool = False,
                 implicit_object: bool = False, strict_budget: list[int] | None = None):
        self.t = text
        self.implicit_object = implicit_object   # `"a": 1, "b": 2}`: the opening brace was left out
        self.start = start
        self.end = end
        self.guide = guide
        self.probe = probe
        self.severe = 0
        self.evidence = 0
        self.value_evidence: list[int] = []   # evidence of each value of the group
        self.tuples = 0
        # Characters the strict decoder may read in attempts that fail; a failed attempt costs what it
        # read, so capping the total at a multiple of the text keeps the whole parse linear. One list
        # is shared by all the parsers of one answer (the prose search makes many).
        if strict_budget is None:
            strict_budget = [4 * end + 4096]
        self.budget = strict_budget
        if guide is not None:
            self.budget[0] = 0

    # -- bookkeeping -------------------------------------------------------------------------
    def _prose(self, pos: int) -> None:
        self.severe += 1
        if self.probe:
            raise Abort(pos)

    # -- public ------------------------------------------------------------------------------
    def parse_group(self) -> tuple[list[Any], int]:
        """All consecutive top-level values from `start` (NDJSON, `}{`, `},{`) and where they end.

        Between values, commas, semicolons, stray closers and backticks are skipped; anything else
        (prose after the answer) ends the group.
        """
        t, end = self.t, self.end
        found, value, pos = self.parse_value(self.start)
        if not found:
            return [], pos
        values = [value]
        self.value_evidence = [self.evidence]
        if not isinstance(value, (dict, list)):
            return values, pos
        while True:
            q = skip_ws_comments(t, pos, end)
            while q < end and t[q] in ",;}])`\uff0c":
                q = skip_ws_comments(t, q + 1, end)
            if q >= end or t[q] not in "{[":
                return values, pos
            before = self.evidence
            probe, self.probe = self.probe, True     # a later value must read cleanly, else it is prose
            try:
                found, value, pos2 = self.parse_value(q)
            except Abort:
                return values, pos
            finally:
                self.probe = probe
            values.append(value)
            pos = pos2
            self.value_evidence.append(self.evidence - before)

    def parse_value(self, pos: int) -> tuple[bool, Any, int]:
        """One top-level value starting at `pos`: (found?, value, position after it)."""
        t, end = self.t, self.end
        guide = self.guide
        stack: list[_Frame] = []
        counts = [0, 0]          # open arrays, open objects (for mismatched closers)
        root: Any = _ABSENT
        if self.implicit_object:
            self.implicit_object = False
            f = self._open("{", guide.root_for(True) if guide else None)
            root = f.box
            stack.append(f)
            counts[1] += 1

        while True:
            pos = skip_ws_comments(t, pos, end)
            if pos >= end:
                return root is not _ABSENT, (None if root is _ABSENT else root), end
            c = t[pos]
            if c in FULLWIDTH:
                c = FULLWIDTH[c]

            if not stack:
                if root is not _ABSENT:
                    return True, root, pos
                if (c == "{" or c == "[") and self.budget[0] > 0 and (done := self._strict(pos)) is not None:
                    return True, done[0], done[1]
                if c == "{" or c == "[" or c == "(":
                    schema = guide.root_for(c == "{") if guide else None
                    f = self._open(c, schema, pos)
                    root = f.box
                    stack.append(f)
                    counts[f.is_obj] += 1
                    pos += 1
                    continue
                if c in QUOTES:
                    s, pos, _ = scan_string(t, pos, end, TOP)
                    self.evidence += 1
                    return True, guide.string(guide.root, s) if guide else s, pos
                tok, pos2 = self._bare(pos, TOP)
                kind, value = classify(tok, pos2 >= end)
                if kind == NOVALUE or kind == WORD:
                    return False, None, pos2
                return True, self._scalar(kind, value, tok, guide.root if guide else None), pos2

            f = stack[-1]
            st = f.state

            # closers, wherever they come
            if c == "}" or c == "]" or c == ")":
                want_obj = c == "}"
                if f.is_obj and f.key is not None and f.loose:
                    self._prose(pos)            # `{placeholder}`: a bare word in braces is prose
                if f.is_obj == want_obj:
                    if not f.box and pos - f.start < 64 and not t[f.start + 1:pos].strip():
                        self.evidence += 1      # a literal `{}` or `[]` is JSON, not prose
                    self._pop(stack, counts)
                elif counts[want_obj]:
                    while True:                 # close the containers the model forgot to close
                        g = self._pop(stack, counts)
                        if g.is_obj == want_obj:
                            break
                pos += 1
                continue

            if f.is_obj:
                if st == S_KEY:
                    if c == "," or c == ";":
                        pos += 1
                    elif c in QUOTES:
                        key, pos, closed = scan_string(t, pos, end, KEY)
                        if closed:
                            self.evidence += 1
                            f.key = key
                            f.loose = False
                            f.state = S_COLON
                    elif c == "{" and len(stack) > 1 and not stack[-2].is_obj and _after_comma(t, pos, self.start):
                        self._pop(stack, counts)   # `[{"a": 1, {"b": 2}]`: a new item, not a member
                        stack[-1].state = S_VALUE
                    elif c == "{":              # `{{...}}`: the inner members belong to this object
                        self._prose(pos)
                        g = _Frame(True, f.box, f.schema, False, pos)
                        f.state = S_COMMA
                        stack.append(g)
                        counts[1] += 1
                        pos += 1
                    elif c == "[" or c == "(":  # a list where a key belongs: read and discarded
                        self._prose(pos)
                        g = self._open(c, None, pos)
                        f.state = S_COMMA
                        stack.append(g)
                        counts[0] += 1
                        pos += 1
                    elif c == ":" or c == "`":
                        self._prose(pos)
                        pos += 1
                    else:
                        pos = self._unquoted_key(f, pos)
                elif st == S_COLON:
                    if c == ":" or c == "=":
                        self.evidence += 1
                        f.state = S_VALUE
                        pos += 1
                        if c == "=" and pos < end and t[pos] == ">":
                            pos += 1
                    elif c == "," or c == ";":   # a key without a value: dropped
                        self._prose(pos)
                        f.key = None
                        f.state = S_KEY
                        pos += 1
                    elif c in QUOTES and _quoted_key_follows(t, pos, end):
                        self._prose(pos)
                        f.key = None
                        f.state = S_KEY
                    else:                           # missing colon
                        self._prose(pos)
                        f.state = S_VALUE
                elif st == S_VALUE:
                    if c == "," or c == ";":
                        self._prose(pos)
                        f.key = None
                        f.state = S_KEY
                        pos += 1
                    elif c == ":" or c == "`":
                        pos += 1
                    else:
                        pos = self._value(stack, counts, f, pos, c, OBJ_VALUE)
                else:  # S_COMMA
                    if c == "," or c == ";":
                        f.state = S_KEY
                        pos += 1
                    elif c in QUOTES or c == "{" or c == "[" or c.isalnum() or c in "_$@":
                        f.state = S_KEY                # missing comma
                    else:
                        self._prose(pos)
                        pos += 1
            else:
                if st == S_VALUE:
                    if c == ",":
                        pos += 1
                    elif c == ":" or c == "`" or c == ";":
                        self._prose(pos)
                        pos += 1
                    else:
                        pos = self._value(stack, counts, f, pos, c, ARR_VALUE)
                else:  # S_COMMA
                    if c == "," or c == ";":
                        f.state = S_VALUE
                        pos += 1
                    elif c == ":" or c == "`":
                        self._prose(pos)
                        pos += 1
                    else:
                        f.state = S_VALUE              # missing comma

    # -- pieces ------------------------------------------------------------------------------
    def _strict(self, pos: int) -> tuple[Any, int] | None:
        """The strict JSON container at `pos` and its end, if there is one (None otherwise)."""
        budget = self.budget
        if budget[0] <= 0:
            return None
        try:
            value, stop = _STRICT.raw_decode(self.t, pos)
        except json.JSONDecodeError as err:
            # the error itself counts the lines before `err.pos`, so that is the cost too
            budget[0] -= 2 * err.pos - pos + 1
            return None
        except (ValueError, RecursionError):        # NaN, huge integers, very deep nesting
            budget[0] = 0
            return None
        if stop > self.end:
            return None
        self.evidence += 1
        return value, stop

    def _open(self, c: str, schema: Any, pos: int = 0) -> _Frame:
        if c == "{":
            return _Frame(True, {}, schema, False, pos)
        if c == "(":
            self.tuples += 1
            return _Frame(False, [], schema, True, pos)
        return _Frame(False, [], schema, False, pos)

    def _pop(self, stack: list[_Frame], counts: list[int]) -> _Frame:
        g = stack.pop()
        counts[g.is_obj] -= 1
        if g.tuple:
            self.tuples -= 1
        return g

    def _child_schema(self, f: _Frame) -> Any:
        if self.guide is None or f.schema is None:
            return None
        if f.is_obj:
            return self.guide.for_key(f.schema, f.key)
        return self.guide.for_index(f.schema, len(f.box))

    def _put(self, f: _Frame, value: Any) -> None:
        if f.is_obj:
            f.box[f.key] = value
            f.key = None
        else:
            f.box.append(value)
        f.state = S_COMMA

    def _value(self, stack: list[_Frame], counts: list[int], f: _Frame, pos: int, c: str, ctx: int) -> int:
        """Read the value at `pos` into frame `f`; returns the new position."""
        t, end = self.t, self.end
        if (c == "{" or c == "[") and self.budget[0] > 0 and (done := self._strict(pos)) is not None:
            self._put(f, done[0])
            return done[1]
        if c == "{" or c == "[" or c == "(":
            g = self._open(c, self._child_schema(f), pos)
            self._put(f, g.box)
            stack.append(g)
            counts[g.is_obj] += 1
            return pos + 1
        if c in QUOTES:
            s, pos, closed = scan_string(t, pos, end, ctx, self.tuples > 0)
            if not closed:
                s = _drop_swallowed_closers(s, stack)
            self.evidence += 1
            schema = self._child_schema(f)
            self._put(f, self.guide.string(schema, s) if schema is not None else s)
            return pos
        tok, pos2 = self._bare(pos, ctx)
        if pos2 == pos:                         # nothing readable here: skip the character
            self._prose(pos)
            return pos + 1
        at_cut = pos2 >= end
        kind, value = classify(tok, at_cut)
        if kind == WORD and ctx == ARR_VALUE and any(ch in WS_CHARS for ch in tok):
            words = tok.split()
            kinds = [classify(w, at_cut and i == len(words) - 1) for i, w in enumerate(words)]
            if all(k in (LITERAL, NUMBER) for k, _ in kinds[:-1]) and kinds[-1][0] in (LITERAL, NUMBER, NOVALUE):
                for w, (k, v) in zip(words, kinds):   # `[1 2 3]`: items missing their commas
                    if k != NOVALUE:
                        self._put(f, self._scalar(k, v, w, self._child_schema(f)))
                return pos2
        if kind == NOVALUE:
            f.key = None
            f.state = S_COMMA
            return pos2
        if kind == WORD and any(ch in WS_CHARS for ch in tok):
            self._prose(pos)
        self._put(f, self._scalar(kind, value, tok, self._child_schema(f)))
        return pos2

    def _scalar(self, kind: int, value: Any, tok: str, schema: Any) -> Any:
        if kind != WORD:
            self.evidence += 1
        if self.guide is not None and schema is not None:
            return self.guide.bare(schema, kind, value, tok)
        if kind == ZEROS:
            return tok
        if kind == WORD:
            return _unquote_tail(tok)
        return value

    def _bare(self, pos: int, ctx: int) -> tuple[str, int]:
        """An unquoted token from `pos`: it may hold spaces (`New York`), `:` (`10:30`), `//` after a
        non-space (`http://x`), and quotes or `#` not preceded by a space (`it's`, `a#b`)."""
        t, end = self.t, self.end
        search = _BARE_STOP.search
        i = pos
        while True:
            m = search(t, i, end)
            if m is None:
                i = end
                break
            j = m.start()
            c = t[j]
            if c in ",}]{[\n\r`\uff0c":
                i = j
                break
            prev_space = j > pos and t[j - 1] in " \t"
            if c == ")":
                if self.tuples > 0:
                    i = j
                    break
            elif c == "/":
                if j + 1 < end and t[j + 1] in "/*" and (j == pos or prev_space):
                    i = j
                    break
            elif c == "#" or c in QUOTES:
                if prev_space:
                    i = j
                    break
            i = j + 1
        return _strip(t[pos:i]), i

    def _unquoted_key(self, f: _Frame, pos: int) -> int:
        """Read a key without quotes (`$ref`, `data-id`, `名前`) and move `f` to the colon state."""
        t, end = self.t, self.end
        m = _KEY_STOP.search(t, pos, end)
        stop = end if m is None else m.start()
        key = _strip(t[pos:stop])
        if stop >= end:                          # cut inside the key: dropped (rule 3)
            return end
        if stop < end and t[stop] in QUOTES:     # `name": 1` — a key that lost its opening quote
            q = skip_ws_comments(t, stop + 1, end)
            if q < end and t[q] in ":\uff1a":
                stop += 1
        if not key:
            self._prose(pos)
            return stop + 1 if stop == pos else stop
        if any(ch in WS_CHARS for ch in key) or len(key) > 80:
            self._prose(pos)
        f.key = key
        f.loose = True
        f.state = S_COLON
        return stop


def _quoted_key_follows(t: str, pos: int, end: int) -> bool:
    """After a key with no colon: is the quoted string at `pos` itself a key (`"b": ...`)?"""
    return quoted_then(t, pos, end, ":", False)


def _unquote_tail(tok: str) -> str:
    """`hello"` (a value that lost its opening quote) reads as `hello`."""
    if len(tok) > 1 and tok[-1] in QUOTES and not any(ch in QUOTES for ch in tok[:-1]):
        return tok[:-1]
    return tok


def _after_comma(t: str, pos: int, start: int) -> bool:
    """Is the previous non-space character a comma? (bounded look-back)"""
    k = pos - 1
    while k > start and pos - k < 256 and t[k] in " \t\r\n":
        k -= 1
    return k >= start and t[k] == ","


def _drop_swallowed_closers(s: str, stack: list[_Frame]) -> str:
    """`{"name": "Alice}`: a string left open at the end that ends with exactly the closers of the open
    containers lost its closing quote, not its content, so those closers are not content. Kept when
    the string has brackets of its own (`"Hello {name}` cut at the end)."""
    body = s.rstrip()
    i = len(body)
    k = len(stack) - 1
    while i > 0 and k >= 0 and body[i - 1] in "}])" and (body[i - 1] == "}") == stack[k].is_obj:
        i -= 1
        k -= 1
    if i == len(body) or any(ch in "{[(" for ch in body[:i]):
        return s
    return body[:i].rstrip()
