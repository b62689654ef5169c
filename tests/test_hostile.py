"""Hostile and pathological constraints: each ends in a typed error or a correct engine, in bounded
time, without reading files, touching the network or running code.

Time bounds are generous (this machine is shared): they separate "bounded" from "exponential", not
fast from slow; `time_cap` turns a hang into a quick failure.
"""
from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
from pathlib import Path

import pytest

from constrain import (ConstrainError, GrammarError, LimitError, Limits, RegexError, SchemaError,
                       UnsupportedRegexError, UnsupportedSchemaError, compile_choices, compile_json_schema,
                       compile_lark, compile_regex)
from constrain import deadline
from constrain.compile import compiling
from constrain.errors import UnsupportedError, UnsupportedGrammarError
from constrain.grammar.cfg import Grammar, Rule, Terminal
from constrain.automaton import regex as rx


@contextlib.contextmanager
def time_cap(seconds: float):
    """Fail (TimeoutError) if the block runs longer than `seconds`: a hang becomes a quick failure.
    SIGALRM interrupts the main thread between bytecodes, which is where pytest runs tests."""
    def expire(*_):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ---------------------------------------------------------------- no files, network or processes

_WATCH = {"on": False, "events": []}
_ALLOWED_ROOTS = tuple(str(Path(p).resolve()) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix})


def _audit(event: str, args: tuple) -> None:
    if not _WATCH["on"]:
        return
    if event == "open":  # module imports and lark's bundled grammars live under the installation
        path = str(args[0])
        if not str(Path(path).resolve()).startswith(_ALLOWED_ROOTS) and not path.endswith((".py", ".pyc")):
            _WATCH["events"].append((event, path))
    elif event.startswith(("socket.", "urllib.", "http.", "subprocess.", "os.system", "os.exec", "os.posix_spawn",
                           "os.spawn", "os.fork", "ctypes.", "exec")):
        _WATCH["events"].append((event, str(args[:1])))


sys.addaudithook(_audit)


@contextlib.contextmanager
def no_io():
    """Record what the block opens, connects to or runs (audit hooks see every such call, whichever
    library makes it); fail if it did any of it. lark reads its string literals with
    `ast.literal_eval` (a `compile` event that runs no code), so `compile` is not on the list."""
    _WATCH["events"].clear()
    _WATCH["on"] = True
    try:
        yield
    finally:
        _WATCH["on"] = False
    assert not _WATCH["events"], _WATCH["events"]


def walk(grammar, vocab, text: str) -> bool:
    """Is `text` accepted, checked the way generation sees it: each token of a greedy longest-match
    spelling must be in the mask, and EOS must be allowed at the end (masks are exact over every
    spelling, so one is enough)."""
    matcher = grammar.matcher()
    for token in spell(vocab, text.encode("utf-8")):
        if not matcher.mask()[token] or not matcher.advance(token):
            return False
    return bool(matcher.mask()[vocab.eos_token_id]) and matcher.is_accepting()


_TABLES: dict[int, dict[bytes, int]] = {}


def spell(vocab, data: bytes) -> list[int]:
    """Greedy longest-match token ids spelling `data` (special tokens never)."""
    table = _TABLES.get(id(vocab))
    if table is None:
        table = _TABLES[id(vocab)] = {d: t for t, d in enumerate(vocab.tokens) if t not in vocab.special_token_ids}
    out, i = [], 0
    while i < len(data):
        for n in range(min(16, len(data) - i), 0, -1):
            if data[i:i + n] in table:
                out.append(table[data[i:i + n]])
                i += n
                break
        else:
            raise ValueError(f"byte {data[i]:#x} is no token of this vocabulary")
    return out


# ---------------------------------------------------------------- regexes

@pytest.mark.parametrize("pattern, good, bad", [
    (r"(a|aa)*b", ["b", "ab", "aab", "a" * 60 + "b"], ["", "a" * 60, "a" * 60 + "c", "ba"]),
    (r"(x+x+)+y", ["xxy", "x" * 50 + "y"], ["xy", "x" * 50, "y"]),
    (r"(a*)*b", ["b", "aaab"], ["aaa", "c"]),
    (r"(.*a){12}", ["a" * 12, "xa" * 12], ["a" * 11, "b" * 40]),
    (r"(\w+\s?)+$", ["ab cd", "x"], ["ab  cd", " ", "ab!"]),
])
def test_backtracking_bombs_are_linear_automata(pattern, good, bad, smollm2_vocab):
    """Catastrophic for a backtracking matcher (`re` itself takes minutes on the 60-character cases),
    plain for a DFA: fast to compile, exact, and a long attack string is rejected by a linear walk."""
    with time_cap(30):
        grammar = compile_regex(pattern, smollm2_vocab)
        for text in good:
            assert walk(grammar, smollm2_vocab, text), text
        for text in bad:
            assert not walk(grammar, smollm2_vocab, text), text
        attack = ("a" if "a" in pattern else "x") * 100_000 + "!"
        start = time.perf_counter()
        assert not grammar.dfa.is_accepting(grammar.dfa.walk(grammar.dfa.start, attack.encode()))
        assert time.perf_counter() - start < 5



def refused_quickly(compile_call, limit_name: str, seconds: float = 10) -> None:
    """`compile_call()` ends in a `LimitError` of `limit_name` within `seconds`."""
    start = time.perf_counter()
    with pytest.raises(LimitError) as info:
        compile_call()
    assert info.value.limit_name == limit_name
    assert time.perf_counter() - start < seconds

@pytest.mark.parametrize("pattern", [r"a{100000}", r"[^\x00]{0,1000000}", r"((a{100}){100}){100}", r".{1000000}",
                                     r"(\d{1000}){1000}"])
def test_huge_counted_repeats_are_limit_errors(pattern, smollm2_vocab):
    refused_quickly(lambda: compile_regex(pattern, smollm2_vocab), "max_nfa_states")


def test_every_compiler_honours_a_zero_deadline(smollm2_vocab):
    """The deadline reaches each front door (the first check fires at once)."""
    zero = Limits(max_compile_seconds=0)
    for build in (lambda: compile_regex("abc", smollm2_vocab, limits=zero),
                  lambda: compile_choices(["a", "b"], smollm2_vocab, limits=zero),
                  lambda: compile_lark('start: "a"\n', smollm2_vocab, limits=zero),
                  lambda: compile_json_schema({"type": "integer"}, smollm2_vocab, limits=zero)):
        with pytest.raises(LimitError) as info:
            build()
        assert info.value.limit_name == "max_compile_seconds"
    assert compile_regex("abc", smollm2_vocab, limits=Limits(max_compile_seconds=None)).dfa.num_states > 1


def test_an_inner_deadline_never_extends_an_outer_one():
    with deadline.within(0):
        with deadline.within(1000):
            with pytest.raises(LimitError):
                deadline.check()
    with deadline.within(1000):
        with deadline.within(None):
            deadline.check()
    deadline.check()  # no deadline outside


def test_a_compilation_that_overran_its_deadline_between_checks_still_reports_it():
    """The last stretch of a compilation may hold no check (CI once saw an enum of 10,000 values
    finish 0.3 s past its 0.5 s deadline there and return): `compiling` checks once more at the end."""
    with pytest.raises(LimitError) as info:
        with compiling(Limits(max_compile_seconds=0.01)):
            time.sleep(0.05)  # stands for work that never calls `deadline.check()`
    assert info.value.limit_name == "max_compile_seconds"
    with compiling(Limits(max_compile_seconds=10)):
        time.sleep(0.01)


def test_the_kernels_one_time_compilation_is_not_counted():
    """The first compilation in a new environment also compiles the kernels (numba, ~30 s once); that
    time, as numba reports it, is left out of the deadline, while the work around it is counted."""
    from numba.core import event

    with compiling(Limits(max_compile_seconds=0.2)):
        with event.trigger_event("numba:compile", data={}):
            time.sleep(0.3)  # stands for a kernel's compilation
        deadline.check()
    with pytest.raises(LimitError):
        with compiling(Limits(max_compile_seconds=0.2)):
            with event.trigger_event("numba:compile", data={}):
                time.sleep(0.1)
            time.sleep(0.25)


def test_deadline_interrupts_a_long_determinisation(smollm2_vocab):
    """(a?){n}a{n}: every DFA state holds up to n NFA states; n=3000 takes ~18 s unbounded, well within
    the state bound, so only a check inside determinisation stops it on time."""
    start = time.perf_counter()
    with time_cap(6), pytest.raises(LimitError) as info:
        compile_regex(r"(a?){3000}a{3000}", smollm2_vocab, limits=Limits(max_compile_seconds=0.5))
    assert info.value.limit_name == "max_compile_seconds"
    assert time.perf_counter() - start < 2


def test_regex_and_choice_compilation_runs_no_code_and_opens_nothing(smollm2_vocab):
    compile_regex(r"\d\w\s", smollm2_vocab)  # warm-up: imports, Unicode classes
    with no_io():
        grammar = compile_regex(r"__import__\('os'\)\.system\('(true|false)'\)|\$\(rm -rf /\)|(?u:\w+)", smollm2_vocab)
        choices = compile_choices(["`true`", "{{7*7}}", "../../etc/passwd"], smollm2_vocab)
    assert walk(grammar, smollm2_vocab, "__import__('os').system('true')") and walk(grammar, smollm2_vocab, "ÉtÉ")
    assert walk(choices, smollm2_vocab, "../../etc/passwd") and not walk(choices, smollm2_vocab, "49")


def test_group_nesting_is_bounded_before_the_stack(smollm2_vocab):
    deep = "(" * rx.MAX_GROUP_DEPTH + "a" + ")*" * rx.MAX_GROUP_DEPTH
    grammar = compile_regex(deep, smollm2_vocab)
    assert walk(grammar, smollm2_vocab, "aaa") and walk(grammar, smollm2_vocab, "")
    for opener in ("(", "(?:", "(?i:"):
        n = rx.MAX_GROUP_DEPTH + 1
        with pytest.raises(UnsupportedRegexError) as info:
            compile_regex(opener * n + "a" + ")" * n, smollm2_vocab)
        assert info.value.position == len(opener) * (n - 1)
        assert isinstance(info.value, UnsupportedError)


@pytest.mark.parametrize("pattern, position", [("ab\ud800", 2), ("\udfffx", 0), (r"a\ud800", 1), (r"[\udc80-\udcff]", 1),
                                               ("(a", 0), ("a{3,1}", 1), ("[z-a]", 1), (r"\N{NO SUCH NAME}", 0)])
def test_lone_surrogates_and_syntax_errors_name_their_position(pattern, position, smollm2_vocab):
    with pytest.raises(RegexError) as info:
        compile_regex(pattern, smollm2_vocab)
    assert info.value.position == position


def test_choices_with_a_lone_surrogate_are_refused_not_dropped(smollm2_vocab):
    with pytest.raises(ConstrainError, match=r"choices\[1\] has a lone surrogate at character 1"):
        compile_choices(["ok", "a\ud800b"], smollm2_vocab)


def test_nul_and_control_characters_are_ordinary(smollm2_vocab):
    grammar = compile_regex("a\x00b[\x01-\x1f]", smollm2_vocab)
    assert walk(grammar, smollm2_vocab, "a\x00b\x07") and not walk(grammar, smollm2_vocab, "a\x00b ")
    choices = compile_choices(["\x00", "\x00\x00"], smollm2_vocab)
    assert walk(choices, smollm2_vocab, "\x00\x00") and not walk(choices, smollm2_vocab, "\x00\x00\x00")


def test_ten_thousand_choices_end_in_a_limit_or_an_exact_engine(smollm2_vocab):
    choices = [f"value-{i}" for i in range(10_000)]
    with time_cap(60):
        try:
            grammar = compile_choices(choices, smollm2_vocab)
        except LimitError:
            return
    for text in ("value-0", "value-9999", "value-4242"):
        assert walk(grammar, smollm2_vocab, text)
    for text in ("value-10000", "value-", "value-00"):
        assert not walk(grammar, smollm2_vocab, text)


# ---------------------------------------------------------------- Lark grammars

@pytest.mark.parametrize("text, kind, line, column", [
    ('start: foo\n', GrammarError, 1, 8),
    ('start: "x"\n  | FOO\n', GrammarError, 2, 5),
    ('start: x\nx: "a" y  // y is never defined\n', GrammarError, 2, 8),
    ('start: A\nA: B\n', GrammarError, 2, 4),
    ('start: "a"\n%ignore WS\n', GrammarError, 2, 9),
    ('start: "a" "b\n', GrammarError, 1, 12),
    ('start: A\n\nA: /a(?=b)/\n', UnsupportedGrammarError, 3, 1),
    ('start: "x" /(a)\\1/\n', UnsupportedGrammarError, 1, 12),
    ('start: "a"\n  | /[/\n', GrammarError, None, None),
])
def test_grammar_errors_name_line_and_column(text, kind, line, column, smollm2_vocab):
    with pytest.raises(kind) as info:
        compile_lark(text, smollm2_vocab)
    assert (info.value.line, info.value.column) == (line, column), str(info.value)


@pytest.mark.parametrize("text", [
    'start: a\na: "x" a\n',                       # every derivation is infinite
    'start: a b\na: "x"\nb: b "y"\n',              # one part never ends
    'start: A\nA: /[^\\x00-\\U0010FFFF]/\n',        # a terminal that matches nothing
])
def test_empty_languages_are_grammar_errors(text, smollm2_vocab):
    with pytest.raises(GrammarError):
        compile_lark(text, smollm2_vocab)


@pytest.mark.parametrize("text", [
    'start: start "a" | "a"\n',                          # direct left recursion
    'start: x "a" | "a"\nx: start\n',                    # indirect
    'start: start start | "a"\n',                        # ambiguous, exponentially many parses
])
def test_left_recursion_is_an_exact_engine(text, smollm2_vocab):
    grammar = compile_lark(text, smollm2_vocab)
    for n in (1, 2, 7):
        assert walk(grammar, smollm2_vocab, "a" * n)
    assert not walk(grammar, smollm2_vocab, "") and not walk(grammar, smollm2_vocab, "ab")
    with time_cap(60):
        assert walk(grammar, smollm2_vocab, "a" * 300)


@pytest.mark.parametrize("text", [
    "start: " + " ".join(['("a"|"b")'] * 30) + "\n",   # lark would multiply out 2^30 alternatives
    'start: ("a"|"b"|"c")~40\n',                       # inline repeats below 50 multiply out too
    't{x}: x ("a"|"b")~14\nstart: ' + " ".join(f't{{"{c}"}}' for c in "abcdefghijklmnopqrstuvwxyz") + "\n",
])
def test_lark_expansion_blowups_are_refused_before_lark_expands(text, smollm2_vocab):
    refused_quickly(lambda: compile_lark(text, smollm2_vocab), "max_grammar_size")


def test_grammar_size_is_configurable(smollm2_vocab):
    chain = 'start: r0\n' + "".join(f'r{i}: "x" r{i + 1} | "y"\n' for i in range(100)) + 'r100: "z"\n'
    with pytest.raises(LimitError, match="max_grammar_size"):
        compile_lark(chain, smollm2_vocab, limits=Limits(max_grammar_size=300))
    grammar = compile_lark(chain, smollm2_vocab)
    assert walk(grammar, smollm2_vocab, "x" * 100 + "z") and walk(grammar, smollm2_vocab, "xxy")
    assert not walk(grammar, smollm2_vocab, "x" * 101 + "z")


def test_long_repeats_stay_small(smollm2_vocab):
    """`x~n` for large n is lark's helper rules, not n copies: bounded size, exact language."""
    grammar = compile_lark('start: ("a"|"b")~1000\n', smollm2_vocab)
    assert grammar.grammar.size < 1000
    assert walk(grammar, smollm2_vocab, "ab" * 500) and not walk(grammar, smollm2_vocab, "ab" * 499 + "a")


def test_deeply_nested_groups_are_a_typed_error(smollm2_vocab):
    with pytest.raises(UnsupportedGrammarError):
        compile_lark("start: " + "(" * 1000 + '"a"' + ")" * 1000 + "\n", smollm2_vocab)


def test_reduction_is_linear_in_the_grammar():
    """A chain of 30,000 rules over 3,000 terminals: rules x chain length would be 10^9 steps."""
    terminals = [Terminal(f"T{k}", rx.literal(f"t{k}")) for k in range(3_000)]
    n, m = len(terminals), 30_000
    rules = [Rule(n + k, (k % n, n + k + 1)) for k in range(m)] + [Rule(n + m, (0,))]
    rules += [Rule(n + k, (n + m + 1,)) for k in range(0, m, 7)]  # unproductive: never ends
    names = [f"r{k}" for k in range(m + 2)]
    start = time.perf_counter()
    reduced = Grammar(terminals, names, rules, n).reduced()
    assert time.perf_counter() - start < 10
    assert len(reduced.rules) == m + 1


def test_imports_never_read_files(tmp_path, monkeypatch, smollm2_vocab):
    """Only lark's bundled grammars can be imported; a grammar next to the working directory, or
    named relative to the grammar, is refused without being opened."""
    (tmp_path / "secret.lark").write_text('A: "leaked"\n')
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "secret.lark").write_text('A: "leaked"\n')
    monkeypatch.chdir(tmp_path)
    compile_lark('%import common (WORD, WS)\nstart: WORD\n%ignore WS\n', smollm2_vocab)  # warm: lark's own files
    for text in ('start: A\n%import .secret (A)\n', 'start: A\n%import secret (A)\n',
                 'start: A\n%import pkg.secret (A)\n', 'start: A\n%import .pkg.secret.A\n'):
        with no_io(), pytest.raises(GrammarError, match="never reads files") as info:
            compile_lark(text, smollm2_vocab)
        assert info.value.line == 2
    with no_io():
        grammar = compile_lark('%import common (WORD, WS)\nstart: WORD (WS WORD)*\n', smollm2_vocab)
    assert walk(grammar, smollm2_vocab, "two words")


# ---------------------------------------------------------------- JSON Schema

def _instance_accepted(grammar, vocab, value) -> bool:
    return walk(grammar, vocab, json.dumps(value))


def test_schemas_one_hundred_levels_deep_compile_exactly(smollm2_vocab):
    obj, arr, value, array_value = {"type": "integer"}, {"type": "integer"}, 7, 7
    for _ in range(100):
        obj = {"type": "object", "properties": {"a": obj}, "required": ["a"], "additionalProperties": False}
        arr = {"type": "array", "items": arr, "minItems": 1, "maxItems": 1}
        value, array_value = {"a": value}, [array_value]
    with time_cap(60):
        grammar = compile_json_schema(obj, smollm2_vocab)
        assert _instance_accepted(grammar, smollm2_vocab, value)
        assert not _instance_accepted(grammar, smollm2_vocab, json.loads(json.dumps(value).replace("7", '"7"')))
        grammar = compile_json_schema(arr, smollm2_vocab)
        assert _instance_accepted(grammar, smollm2_vocab, array_value)
        assert not _instance_accepted(grammar, smollm2_vocab, [array_value])


def test_schemas_nested_beyond_the_stack_are_a_typed_error(smollm2_vocab):
    deep = {"type": "integer"}
    for _ in range(2000):
        deep = {"type": "array", "items": deep}
    with pytest.raises(UnsupportedSchemaError):
        compile_json_schema(deep, smollm2_vocab)


def test_schema_text_nested_beyond_the_stack_is_a_typed_error(smollm2_vocab):
    """The JSON parser recurses too: deep schema text fails like a deep schema object."""
    for text in ('{"not":' * 5000 + "{}" + "}" * 5000, '{"const": ' + "[" * 50_000 + "]" * 50_000 + "}"):
        with pytest.raises(UnsupportedSchemaError) as info:
            compile_json_schema(text, smollm2_vocab)
        assert info.value.pointer == "#"


def test_many_optional_properties_compile_in_linear_size(smollm2_vocab):
    """Any optional property may be skipped: one rule per skipped name, not a jump from each
    position to every later name (1000 properties were a million rules and a minute)."""
    props = {f"p{i}": {"type": "integer"} for i in range(1000)}
    with time_cap(30):
        grammar = compile_json_schema({"type": "object", "properties": props, "required": ["p500"]}, smollm2_vocab)
    assert grammar.grammar.size < 100_000
    assert _instance_accepted(grammar, smollm2_vocab, {"p3": 1, "p500": 2, "p999": 3})
    assert _instance_accepted(grammar, smollm2_vocab, {"p500": 2})
    assert not _instance_accepted(grammar, smollm2_vocab, {"p3": 1, "p999": 3})
    assert not _instance_accepted(grammar, smollm2_vocab, {"p500": 2, "p3": 1})
    with pytest.raises(UnsupportedSchemaError) as info:  # states: 2 per position
        compile_json_schema({"type": "object", "properties": {f"p{i}": {} for i in range(5000)}}, smollm2_vocab)
    assert info.value.pointer == "#/properties"


_TREE = {"$defs": {"node": {"anyOf": [{"type": "null"}, {"type": "array", "items": {"$ref": "#/$defs/node"}}]}},
         "$ref": "#/$defs/node"}


def test_schema_limits_reach_the_grammar(smollm2_vocab):
    """Each bound of `Limits` holds for schemas: the grammar size and the deadline are `LimitError`s
    (the deadline also when it expires deep inside, never turned into an unsupported keyword), the
    lexer's state bounds an `UnsupportedSchemaError` at '#', and raising a bound lets a schema through."""
    wide = {"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(50)}}
    with pytest.raises(LimitError) as info:
        compile_json_schema(wide, smollm2_vocab, limits=Limits(max_grammar_size=100))
    assert info.value.limit_name == "max_grammar_size"
    for limits in (Limits(max_dfa_states=10), Limits(max_nfa_states=100)):
        with pytest.raises(UnsupportedSchemaError) as info:
            compile_json_schema(wide, smollm2_vocab, limits=limits)
        assert info.value.pointer == "#" and "limit max_" in str(info.value)
    values = [f"value-{i}" for i in range(10_000)]  # a lexer of 10,000 terminals: ~350,000 NFA states
    with pytest.raises(UnsupportedSchemaError):
        compile_json_schema({"enum": values}, smollm2_vocab)
    start = time.perf_counter()
    with time_cap(30), pytest.raises(LimitError) as info:
        compile_json_schema({"enum": values}, smollm2_vocab, limits=Limits(max_nfa_states=10 ** 6, max_compile_seconds=0.2))
    assert info.value.limit_name == "max_compile_seconds" and time.perf_counter() - start < 5
    with time_cap(60):
        grammar = compile_json_schema({"enum": values}, smollm2_vocab, limits=Limits(max_nfa_states=10 ** 6))
    assert _instance_accepted(grammar, smollm2_vocab, "value-9999") and _instance_accepted(grammar, smollm2_vocab, "value-0")
    assert not _instance_accepted(grammar, smollm2_vocab, "value-10000")


@pytest.mark.parametrize("schema, error", [
    ({"$defs": {"n": {"type": "array", "items": {"$ref": "#/$defs/n"}, "minItems": 1}}, "$ref": "#/$defs/n"}, SchemaError),
    ({"$defs": {"n": {"$ref": "#/$defs/n"}}, "$ref": "#/$defs/n"}, SchemaError),
    ({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}, SchemaError),
    ({"$defs": {"n": {"type": "object", "properties": {"c": {"$ref": "#/$defs/n"}}, "required": ["c"]}},
      "$ref": "#/$defs/n"}, SchemaError),
    ({"$defs": {"n": {"allOf": [{"$ref": "#/$defs/n"}]}}, "$ref": "#/$defs/n"}, UnsupportedSchemaError),
])
def test_ref_cycles_without_a_base_case_are_typed_errors(schema, error, smollm2_vocab):
    with time_cap(30), pytest.raises(error):
        compile_json_schema(schema, smollm2_vocab)


def test_ref_cycles_with_a_base_case_are_recursive_grammars(smollm2_vocab):
    grammar = compile_json_schema(_TREE, smollm2_vocab)
    for value in (None, [], [None, [[None], []]], [[[[[[[[[[[]]]]]]]]]]]):
        assert _instance_accepted(grammar, smollm2_vocab, value)
    for value in (0, [1], [[None], "x"]):
        assert not _instance_accepted(grammar, smollm2_vocab, value)


@pytest.mark.parametrize("schema, pointer", [
    ({"$ref": "http://example.com/schema.json"}, "#/$ref"),
    ({"$ref": "https://example.com/schema.json#/$defs/x"}, "#/$ref"),
    ({"$ref": "//example.com/schema.json"}, "#/$ref"),
    ({"$ref": "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427"}, "#/$ref"),
    ({"properties": {"p": {"$ref": "other.json"}}}, "#/properties/p/$ref"),
    ({"$id": "http://example.com/root.json", "$ref": "other.json"}, "#/$ref"),
])
def test_remote_refs_are_refused_without_network(schema, pointer, smollm2_vocab):
    compile_json_schema({"type": "integer"}, smollm2_vocab)  # warm-up: imports
    with no_io(), pytest.raises(UnsupportedSchemaError) as info:
        compile_json_schema(schema, smollm2_vocab)
    assert info.value.pointer == pointer
    assert isinstance(info.value, ConstrainError)


@pytest.mark.parametrize("schema, pointer", [
    ({"enum": [{"a": 1}], "properties": {"a": {"$ref": "http://example.com/x.json"}}}, "#/enum/0"),
    ({"const": 1, "not": {"$ref": "https://example.com/x.json"}}, "#/not"),
    ({"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"d": {"$ref": "http://example.com/x.json"}},
      "const": {"k": 2}, "properties": {"k": {"$ref": "#/definitions/d"}}}, "#/const"),
])
def test_validators_never_fetch_a_remote_ref(schema, pointer, smollm2_vocab):
    """jsonschema fetches a `$ref` to another document with urllib unless told not to: neither the
    compiler's enum filter nor the strategies' output check may let it."""
    from constrain.strategies import schema_errors, schema_validator

    compile_json_schema({"enum": [1], "type": "integer"}, smollm2_vocab)  # warm-up: imports
    with no_io(), pytest.raises(UnsupportedSchemaError, match="remote references are refused") as info:
        compile_json_schema(schema, smollm2_vocab)
    assert info.value.pointer == pointer
    validator = schema_validator({"properties": {"a": {"$ref": "http://example.com/x.json"}}})
    with no_io():
        assert schema_errors(validator, {"a": 1}) and schema_errors(validator, {}) == []


def test_file_refs_are_refused_without_opening_the_file(tmp_path, monkeypatch, smollm2_vocab):
    target = tmp_path / "defs.json"
    target.write_text(json.dumps({"type": "string"}))
    monkeypatch.chdir(tmp_path)
    compile_json_schema({"type": "integer"}, smollm2_vocab)
    for schema in ({"$ref": target.as_uri()}, {"$ref": "defs.json"}, {"$id": tmp_path.as_uri() + "/", "$ref": "defs.json"},
                   {"$id": "file:///", "$ref": str(target)[1:]}):
        with no_io(), pytest.raises(UnsupportedSchemaError, match="remote references are refused"):
            compile_json_schema(schema, smollm2_vocab)


@pytest.mark.parametrize("schema, pointer", [
    ({"type": "string", "maxLength": 1_000_000_000}, "#/maxLength"),
    ({"type": "string", "minLength": 10 ** 18}, "#/minLength"),
    ({"type": "array", "minItems": 1_000_000_000}, "#/minItems"),
    ({"type": "object", "maxProperties": 1_000_000_000}, "#/maxProperties"),
])
def test_huge_bounds_are_refused_quickly(schema, pointer, smollm2_vocab):
    start = time.perf_counter()
    with pytest.raises(UnsupportedSchemaError) as info:
        compile_json_schema(schema, smollm2_vocab)
    assert info.value.pointer == pointer
    assert time.perf_counter() - start < 15


@pytest.mark.parametrize("pattern", ["\ud800", "a\udfff", "\\ud800", "[\\udc00-\\udcff]"])
def test_lone_surrogates_in_patterns_are_typed_errors(pattern, smollm2_vocab):
    with pytest.raises(UnsupportedSchemaError) as info:
        compile_json_schema({"type": "string", "pattern": pattern}, smollm2_vocab)
    assert info.value.pointer == "#/pattern"


@pytest.mark.parametrize("schema, value", [
    ({"enum": ["\ud800", "x"]}, "\ud800"),
    ({"const": "a\udc80b"}, "a\udc80b"),
    ({"type": "object", "properties": {"\udfff": {"const": 1}}, "required": ["\udfff"], "additionalProperties": False},
     {"\udfff": 1}),
])
def test_lone_surrogates_in_values_are_written_escaped(schema, value, smollm2_vocab):
    """JSON can carry a lone surrogate only as a `\\uXXXX` escape: that is the one spelling allowed,
    and it reads back as the schema's value."""
    grammar = compile_json_schema(schema, smollm2_vocab)
    text = json.dumps(value)
    assert text.isascii() and walk(grammar, smollm2_vocab, text)
    assert json.loads(text) == value


def test_ten_thousand_enum_values_end_quickly(smollm2_vocab):
    for values in ([f"value-{i}" for i in range(10_000)], list(range(10_000))):
        with time_cap(10):
            try:
                grammar = compile_json_schema({"enum": values}, smollm2_vocab)
            except (SchemaError, LimitError):
                continue
        assert _instance_accepted(grammar, smollm2_vocab, values[-1])
        assert not _instance_accepted(grammar, smollm2_vocab, "value-10000")


def test_intersecting_two_large_enums_is_not_quadratic(smollm2_vocab):
    """allOf of two 5,000-value enums: a hash join (values equal as jsonschema says: 1 == 1.0, but
    not true), not 25 million `enum` checks."""
    a, b = [f"v{i}" for i in range(5000)] + [1, True, [1]], [f"v{i}" for i in range(4990, 9990)] + [1.0, 1, [True]]
    with time_cap(20):
        grammar = compile_json_schema({"allOf": [{"enum": a}, {"enum": b}]}, smollm2_vocab)
    for value in ("v4990", "v4999", 1, 1.0):
        assert _instance_accepted(grammar, smollm2_vocab, value)
    for value in ("v4989", "v5000", True, [1], [True]):
        assert not _instance_accepted(grammar, smollm2_vocab, value)


def test_enum_filtering_is_not_a_regex_bomb(smollm2_vocab):
    schema = {"type": "string", "pattern": "^(a|aa)*$", "enum": ["a" * 45 + "!", "aa"]}
    with time_cap(5):
        grammar = compile_json_schema(schema, smollm2_vocab)
    assert _instance_accepted(grammar, smollm2_vocab, "aa")


def test_validating_an_output_is_not_a_regex_bomb():
    from constrain.strategies import schema_errors, schema_validator

    bomb, attack = "^(a|aa)*$", "a" * 45 + "!"
    validator = schema_validator({"type": "string", "pattern": bomb})
    with time_cap(5):
        assert schema_errors(validator, attack)
    assert not schema_errors(validator, "aaaa")
    names = schema_validator({"type": "object", "patternProperties": {bomb: {"type": "integer"}},
                              "additionalProperties": False})
    with time_cap(5):
        assert schema_errors(names, {attack: 1})
    assert not schema_errors(names, {"aa": 1}) and schema_errors(names, {"aa": "x"}) and schema_errors(names, {"b": 1})


def test_schema_bytes_that_are_not_utf8_are_a_schema_error(smollm2_vocab):
    with pytest.raises(SchemaError) as info:
        compile_json_schema(b'{"enum": ["\xff"]}', smollm2_vocab)
    assert info.value.pointer == "#"


def test_infinite_length_bound_is_a_schema_error(smollm2_vocab):
    for key in ("maxLength", "minItems", "maxProperties"):
        with pytest.raises(SchemaError) as info:
            compile_json_schema(json.loads(f'{{"maxLength": 1, "{key}": 1e400}}'), smollm2_vocab)
        assert info.value.pointer == f"#/{key}"


def test_a_five_thousand_digit_constant_is_a_typed_error(smollm2_vocab):
    for schema, pointer in (({"const": 10 ** 5000}, "#/const"), ({"enum": [1, 10 ** 5000]}, "#/enum/1"),
                            ({"properties": {"n": {"const": -10 ** 5000}}}, "#/properties/n/const"),
                            ({"type": "integer", "maximum": 10 ** 5000}, "#/maximum"),
                            ({"type": "number", "exclusiveMinimum": -10 ** 400}, "#/exclusiveMinimum"),
                            ({"type": "integer", "multipleOf": 10 ** 5000}, "#/multipleOf")):
        with pytest.raises(UnsupportedSchemaError) as info:
            compile_json_schema(schema, smollm2_vocab)
        assert info.value.pointer == pointer


def test_unsupported_schema_errors_are_unsupported_errors():
    assert issubclass(UnsupportedSchemaError, UnsupportedError)


def test_schema_compilation_runs_no_code_and_opens_nothing(smollm2_vocab):
    schema = {"type": "object", "properties": {
        "cmd": {"type": "string", "pattern": "^__import__\\('os'\\)\\.system\\('true'\\)$"},
        "fmt": {"type": "string", "format": "date"},
        "d": {"$ref": "#/$defs/d"}},
        "$defs": {"d": {"enum": ["{{7*7}}", "$(true)", "`true`", "'; DROP TABLE x; --"]}},
        "$schema": "http://json-schema.org/draft-07/schema#"}
    compile_json_schema({"type": "string", "format": "date"}, smollm2_vocab)
    with no_io():
        grammar = compile_json_schema(schema, smollm2_vocab)
    value = {"cmd": "__import__('os').system('true')", "fmt": "2024-02-29", "d": "$(true)"}
    assert _instance_accepted(grammar, smollm2_vocab, value)
