"""`format` as regexes over the decoded string, each accepting only what `jsonschema` accepts.

`jsonschema` asserts a format only when its format checker knows the name (we use `FORMAT_CHECKER`,
the draft 2020-12 checker, for every draft, wherever a value is validated); any other name (`int32`, `topic`, a
misspelling) is an annotation and constrains nothing, as the specification says of unknown formats.

Each regex below is written from the format's RFC and checked (tests/test_schema_scalars.py,
hypothesis) to accept only strings the installed checker accepts. Where the checker accepts more
than a finite automaton can enforce (dates by calendar are fine; `regex` is not regular) or more than
anyone writes (the `email` checker only looks for an `@`), the regex is the common real-world subset:

- date, date-time, time: RFC 3339 (`T`/`t`, `Z`/`z`, fractional seconds, offsets), calendar-exact
  (leap years), no leap second (the checker refuses second 60).
- duration: ISO 8601 `P..Y..M..DT..H..M..S` or `P..W`, components in order, integers or decimals.
- email, idn-email: any string with an `@`, exactly what the checker asks (quoted local parts and
  address literals are valid e-mail addresses too).
- hostname: RFC 1123 labels (letters, digits, inner hyphens) of at most 63 characters, at most 253
  characters in all, plus an optional final dot: an automaton of about 27 000 states, built once
  per process (1.7 s) and determinised lazily in the lexer.
- ipv4 (no leading zeros), ipv6 (RFC 4291 text forms, embedded IPv4 included, no zone), uuid
  (8-4-4-4-12 hex digits).
- uri, uri-reference: RFC 3986 exactly (what rfc3986-validator reads), percent-escapes included.
- iri, iri-reference: RFC 3987 with non-ASCII letters of the BMP; hosts are names or IPv4 addresses.
  jsonschema checks them only with the optional rfc3987 packages (one costs 7 s per import), so
  `FORMAT_CHECKER` checks them with these same regexes when it has no checker of its own.
- json-pointer, relative-json-pointer: RFC 6901 and its relative form.
- regex: a sequence of literal characters, escapes, classes, `.`, quantifiers, groups (two levels)
  and alternation, a subset of what Python's `re` compiles.

Layout: a formatted string writes its printable ASCII characters raw, as `json.dumps` does (an
escaped `\\u0041` in a URI would multiply the automaton's size by five); other characters may be
escaped or not. `UNSUPPORTED` lists the checked formats we do not enforce (reported, never ignored).
`FORMATS` lists the enforced ones.
"""
from __future__ import annotations

import re
from functools import lru_cache

import jsonschema

from ..automaton.nfa import estimate_states
from ..automaton.product import compact
from ..automaton.regex import Node, Repeat, literal
from .nodes import cat
from .spelling import length_limited, spelled

_DIGIT = "[0-9]"
_HEX = "[0-9A-Fa-f]"

# dates and times (RFC 3339); the year 0000 does not exist for Python's calendar
_YEAR = r"(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
_LEAP = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_DATE = (rf"(?:{_YEAR}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
         rf"|02-(?:0[1-9]|1[0-9]|2[0-8]))|{_LEAP}-02-29)")
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"


def _some(items: list[str]) -> str:
    """At least one of `items`, each at most once, in order."""
    alts = []
    for k, item in enumerate(items):
        alts.append(item + "".join(f"(?:{rest})?" for rest in items[k + 1:]))
    return "(?:" + "|".join(alts) + ")"


_NUM = r"[0-9]+(?:[.,][0-9]+)?"
_DURATION = (rf"P(?:{_NUM}W|{_some([_NUM + 'Y', _NUM + 'M', _NUM + 'D'])}(?:T{_some([_NUM + 'H', _NUM + 'M', _NUM + 'S'])})?"
             rf"|T{_some([_NUM + 'H', _NUM + 'M', _NUM + 'S'])})")

# addresses
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = rf"(?:{_OCTET}\.){{3}}{_OCTET}"
_H16 = f"{_HEX}{{1,4}}"
_LS32 = rf"(?:{_H16}:{_H16}|{_IPV4})"


def _ipv6() -> str:
    """RFC 3986's IPv6address: 8 groups, or `::` standing for one or more zero groups."""
    tails = [f"(?:{_H16}:){{{5 - n}}}{_LS32}" for n in range(6)] + [_H16, ""]  # after "::"
    alts = [rf"(?:{_H16}:){{6}}{_LS32}"]
    for n, tail in enumerate(tails):  # at most n groups before "::"
        head = f"(?:(?:{_H16}:){{0,{n - 1}}}{_H16})?" if n else ""
        alts.append(f"{head}::{tail}")
    return "(?:" + "|".join(alts) + ")"


_IPV6 = _ipv6()

# URIs (RFC 3986) and IRIs (RFC 3987)
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = f"%{_HEX}{_HEX}"
_UCS = r"\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef"
_PRIVATE = r"\ue000-\uf8ff"


def _uri(unreserved: str, ip_literal: bool, query_extra: str = "") -> tuple[str, str]:
    """(absolute, relative reference) regexes for `unreserved` characters (URI or IRI)."""
    pchar = f"(?:[{unreserved}{_SUB_DELIMS}:@]|{_PCT})"
    segment, segment_nz = f"{pchar}*", f"{pchar}+"
    segment_nz_nc = f"(?:[{unreserved}{_SUB_DELIMS}@]|{_PCT})+"
    userinfo = f"(?:[{unreserved}{_SUB_DELIMS}:]|{_PCT})*"
    reg_name = f"(?:[{unreserved}{_SUB_DELIMS}]|{_PCT})*"
    literal = rf"\[(?:{_IPV6}|v{_HEX}+\.[{_UNRESERVED}{_SUB_DELIMS}:]+)\]|" if ip_literal else ""
    host = f"(?:{literal}{_IPV4}|{reg_name})"
    authority = f"(?:{userinfo}@)?{host}(?::[0-9]*)?"
    abempty = f"(?:/{segment})*"
    absolute = f"/(?:{segment_nz}{abempty})?"
    query = f"(?:\\?(?:{pchar}|[/?{query_extra}])*)?"
    fragment = f"(?:#(?:{pchar}|[/?])*)?"
    scheme = "[A-Za-z][A-Za-z0-9+.-]*"
    hier = f"(?://{authority}{abempty}|{absolute}|{segment_nz}{abempty}|)"
    relative = f"(?://{authority}{abempty}|{absolute}|{segment_nz_nc}{abempty}|)"
    return f"{scheme}:{hier}{query}{fragment}", f"{relative}{query}{fragment}"


_URI, _URI_RELATIVE = _uri(_UNRESERVED, True)
_IRI, _IRI_RELATIVE = _uri(_UNRESERVED + _UCS, False, _PRIVATE)

# names
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_NAME = rf"{_LABEL}(?:\.{_LABEL})*"
_POINTER = "(?:/(?:[^/~]|~[01])*)*"

# a regular subset of Python regexes: atoms with at most one quantifier, groups two levels deep
_ATOM = r"(?:[^\\^$.|?*+()\[\]{}]|\\[\\^$.|?*+()\[\]{}/\-dDwWsS]|\.|\[\^?(?:[^\\\]\[^\-&~|]|a-z|A-Z|0-9)+\])"
_QUANT = r"(?:[*+?]|\{[0-9]{1,3},?\})?"


def _regex_subset() -> str:
    piece = f"{_ATOM}{_QUANT}"
    inner = f"(?:{piece})*(?:\\|(?:{piece})*)*"
    group = rf"\((?:{inner})\){_QUANT}"
    inner2 = f"(?:{piece}|{group})*(?:\\|(?:{piece}|{group})*)*"
    group2 = rf"\((?:{inner2})\){_QUANT}"
    body = f"(?:{piece}|{group2})*"
    return rf"\^?{body}(?:\|{body})*\$?"


_REGEXES: dict[str, str] = {
    "date": _DATE,
    "time": _TIME,
    "date-time": f"{_DATE}[Tt]{_TIME}",
    "duration": _DURATION,
    "email": "(?s).*@.*",
    "idn-email": "(?s).*@.*",
    "ipv4": _IPV4,
    "ipv6": _IPV6,
    "uuid": f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}",
    "uri": _URI,
    "uri-reference": f"(?:{_URI}|{_URI_RELATIVE})",
    "iri": _IRI,
    "iri-reference": f"(?:{_IRI}|{_IRI_RELATIVE})",
    "json-pointer": _POINTER,
    "relative-json-pointer": f"(?:0|[1-9]+0?)(?:#|{_POINTER})",  # the checker refuses a digit after a 0
    "regex": _regex_subset(),
}
FORMATS = sorted(_REGEXES) + ["hostname"]


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(())
    checker.checkers = dict(jsonschema.Draft202012Validator.FORMAT_CHECKER.checkers)
    for name in ("iri", "iri-reference"):
        if name not in checker.checkers:
            pattern = re.compile(_REGEXES[name])
            checker.checks(name)(lambda value, p=pattern: not isinstance(value, str) or bool(p.fullmatch(value)))
    return checker


FORMAT_CHECKER = _format_checker()  # what validates every value: jsonschema's, plus the iri formats
UNSUPPORTED = {"idn-hostname": "IDNA 2008 rules are not enforced",
               "uri-template": "RFC 6570 templates are not enforced"}


@lru_cache(maxsize=None)
def format_spelling(name: str) -> Node:
    """The JSON spellings (between the quotes) of the strings format `name` accepts."""
    if name == "hostname":  # at most 253 characters, not counting a final dot
        return cat(length_limited((spelled(_NAME, True),), 1, 253), Repeat(literal("."), 0, 1))
    node = spelled(_REGEXES[name], True)
    return compact(node) if estimate_states(node) > 2000 else node
