"""Token budgets: with `matcher(budget=N)` every output ends with EOS within N tokens, complete and
valid, whatever picks the tokens; a budget below the minimum is a `BudgetError` before generating."""
import itertools
import json
import re
from pathlib import Path

import jsonschema
import lark
import numpy as np
import pytest
import torch
from transformers import LogitsProcessorList

from constrain import ConstrainedLogitsProcessor, compile_json_schema, compile_lark, compile_regex
from constrain.budget import min_new_tokens
from constrain.errors import BudgetError
from constrain.generate import prompt_ids, vocabulary_for
from constrain.index.segment import segmenter_of

ARITHMETIC = str(Path(__file__).parent.parent / "grammars" / "arithmetic.lark")
EMAIL = r"[a-z]{3,8}@[a-z]{2,5}\.(com|org)"
SCHEMAS = {
    "nested": {"type": "object", "required": ["id", "owner"], "properties": {
        "id": {"type": "integer"},
        "owner": {"type": "object", "required": ["name", "address"], "properties": {
            "name": {"type": "string"},
            "address": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}}},
        "note": {"type": "string"}}},
    "min_items": {"type": "array", "minItems": 3, "items": {
        "type": "object", "required": ["x"], "properties": {"x": {"type": "number"}, "tags": {"type": "array"}}}},
    "min_length": {"type": "string", "minLength": 12},
}
OPENERS = b"[{(\""


def opener(vocab):
    """The adversary: never ends when it can go on, and takes the token that opens the most
    structure (then the longest)."""
    score = np.array([sum(map(token.count, OPENERS)) * 1000 + len(token) for token in vocab.tokens])
    score[vocab.eos_token_id] = -1
    return lambda allowed, rng: int(allowed[np.argmax(score[allowed])])


def wanderer(vocab):
    """Random tokens, EOS only when nothing else is allowed."""
    def pick(allowed, rng):
        others = allowed[allowed != vocab.eos_token_id]
        return int(rng.choice(others)) if others.size else vocab.eos_token_id
    return pick


def sampler(vocab):
    """Random tokens, EOS as likely as any other."""
    return lambda allowed, rng: int(rng.choice(allowed))


def run(grammar, budget: int, pick, seed: int = 0) -> tuple[bytes, list[int]]:
    """One output under `budget`, picking among the allowed tokens with `pick`."""
    vocab = grammar.vocab
    matcher = grammar.matcher(budget=budget)
    rng = np.random.default_rng(seed)
    ids = []
    while not matcher.is_terminated():
        assert matcher.remaining >= 1
        allowed = np.flatnonzero(matcher.mask().numpy())
        assert allowed.size, f"empty mask after {ids}"
        token = pick(allowed, rng)
        assert matcher.advance(token)
        ids.append(token)
    assert len(ids) <= budget and ids[-1] == vocab.eos_token_id
    return b"".join(vocab.tokens[t] for t in ids[:-1]), ids


def check_budgets(grammar, valid, *, span: int = 15):
    """Every budget from the minimum to minimum + span, for each adversary: the output is valid; at
    the minimum it takes exactly the minimum (which is proven); below it, `BudgetError`."""
    vocab = grammar.vocab
    least = min_new_tokens(grammar)
    with pytest.raises(BudgetError, match=f"needs {least} tokens"):
        grammar.matcher(budget=least - 1)
    for budget in range(least, least + span + 1):
        for seed, adversary in enumerate((opener, wanderer, sampler)):
            text, ids = run(grammar, budget, adversary(vocab), seed)
            valid(text.decode("utf-8"))
            if budget == least and adversary is opener:
                assert len(ids) == least
    return least


def test_regex_every_budget(smollm2_vocab):
    grammar = compile_regex(EMAIL, smollm2_vocab)
    least = check_budgets(grammar, lambda text: re.fullmatch(EMAIL, text) or pytest.fail(text))
    assert least == _fewest_tokens(grammar)


def test_lark_every_budget(smollm2_vocab):
    parser = lark.Lark.open(ARITHMETIC, parser="earley", lexer="dynamic_complete")
    check_budgets(compile_lark(ARITHMETIC, smollm2_vocab), parser.parse)


@pytest.mark.parametrize("name", SCHEMAS)
def test_schema_every_budget(smollm2_vocab, name):
    schema = SCHEMAS[name]
    check_budgets(compile_json_schema(schema, smollm2_vocab),
                  lambda text: jsonschema.validate(json.loads(text), schema))


def _fewest_tokens(grammar) -> int:
    """Reference: breadth-first over DFA states, stepping every allowed token one by one."""
    layer, seen, k = {grammar.initial_state()}, set(), 1
    while not any(grammar.is_accepting(s) for s in layer):
        seen |= layer
        layer = {grammar.step(s, t) for s in layer for t in torch.nonzero(grammar.mask_for(s)).flatten().tolist()
                 if t != grammar.vocab.eos_token_id} - seen
        k += 1
    return k


def test_far_from_the_limit_nothing_changes(smollm2_vocab):
    grammar = compile_lark(ARITHMETIC, smollm2_vocab)
    matcher, pick, rng = grammar.matcher(budget=10_000), wanderer(smollm2_vocab), np.random.default_rng(3)
    for _ in range(40):
        mask = matcher.mask()
        assert torch.equal(mask, grammar.mask_for(matcher._state))
        assert matcher.advance(pick(np.flatnonzero(mask.numpy()), rng))


def test_near_the_limit_the_mask_narrows(smollm2_vocab):
    """Near the limit the mask is a non-empty part of the unbudgeted one, and shrinks to the
    closing tokens (here: digits may go on until only the closing ones fit)."""
    grammar = compile_lark(ARITHMETIC, smollm2_vocab)
    least = min_new_tokens(grammar)
    budget = least + 6
    matcher, pick, rng = grammar.matcher(budget=budget), opener(smollm2_vocab), np.random.default_rng(0)
    sizes = []
    while not matcher.is_terminated():
        mask, plain = matcher.mask(), grammar.mask_for(matcher._state)
        assert mask.any() and not (mask & ~plain).any()
        sizes.append((int(mask.sum()), int(plain.sum())))
        assert matcher.advance(pick(np.flatnonzero(mask.numpy()), rng))
    assert sizes[0][0] == sizes[0][1]  # far enough at the start: nothing narrowed
    assert any(narrowed < plain for narrowed, plain in sizes)


def test_advance_refuses_what_does_not_fit_and_rollback_restores(smollm2_vocab, smollm2_tokenizer):
    grammar = compile_json_schema(SCHEMAS["nested"], smollm2_vocab)
    least = min_new_tokens(grammar)
    matcher = grammar.matcher(budget=least + 2)
    before = matcher.mask().clone()
    # an opening quote, then a long note-like value, cannot fit: the id must come first and is an integer
    text = '{"id": 1234567890123456789'
    ids = smollm2_tokenizer.encode(text, add_special_tokens=False)
    taken = 0
    for t in ids:
        if not matcher.advance(t):
            break
        taken += 1
    assert 0 < taken < len(ids)  # the budget stopped the long integer
    refused = ids[taken]
    assert grammar.step(matcher._state, refused) is not None  # the grammar alone would take it
    assert not matcher.mask()[refused]
    matcher.rollback(taken)
    assert torch.equal(matcher.mask(), before)


def test_segmenter_fewest_tokens(smollm2_vocab, smollm2_tokenizer):
    segmenter = segmenter_of(smollm2_vocab)
    for text in ['{"name": "", "age": 0}', "hello world", "aaaaaaaaaa", "naïve 🙂", " " * 40]:
        data = text.encode()
        split = segmenter.split(data)
        assert b"".join(smollm2_vocab.tokens[t] for t in split) == data
        assert len(split) <= len(smollm2_tokenizer.encode(text, add_special_tokens=False))
    assert segmenter.split(b"\x04") is None  # no SmolLM2 token holds this byte


TINY = r"""
start: e
e: "(" e ")" | e "+" e | NUM | "[" [e ("," e)*] "]"
NUM: /[0-9]+/
"""


def test_byte_completions_are_shortest(smollm2_vocab):
    """From every prefix of a few texts, the completion is accepted and as short as a brute force
    search over the grammar's characters finds."""
    grammar = compile_lark(TINY, smollm2_vocab)
    parser = lark.Lark(TINY, parser="earley", lexer="dynamic_complete")
    completions = grammar.matcher(budget=100)._completions

    def parses(text):
        try:
            parser.parse(text)
            return True
        except lark.exceptions.LarkError:
            return False

    for text in ["((1+[2,", "(1)+(("]:
        state = grammar.initial_state()
        for k in range(len(text) + 1):
            completion = min(map(completions.completion, completions.view.configs(state)), key=len)
            assert parses(text[:k] + completion.decode())
            shortest = next(n for n in range(8) if any(parses(text[:k] + "".join(tail))
                                                         for tail in itertools.product("()+[],0", repeat=n)))
            assert len(completion) == shortest, (text[:k], completion)
            if k < len(text):
                state = grammar.step(state, smollm2_vocab.tokens.index(text[k].encode()))


@pytest.mark.model
def test_real_model_is_not_cut_off(default_model):
    """Greedy SmolLM2 on a schema with a free-text field runs past a small budget; with the budget
    the same model's output closes in time and validates."""
    model, tokenizer = default_model
    vocab = vocabulary_for(model, tokenizer)
    schema = {"type": "object", "required": ["name", "description", "height_m"], "properties": {
        "name": {"type": "string"}, "description": {"type": "string"}, "height_m": {"type": "number"}}}
    grammar = compile_json_schema(schema, vocab)
    budget = min_new_tokens(grammar) + 6
    prompt = "Describe the Eiffel Tower in detail as a JSON object with name, description and height_m."
    input_ids = torch.tensor([prompt_ids(tokenizer, prompt)])

    def generate(matcher):
        out = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), do_sample=False,
                             max_new_tokens=budget, eos_token_id=vocab.eos_token_id, pad_token_id=vocab.eos_token_id,
                             logits_processor=LogitsProcessorList([ConstrainedLogitsProcessor(matcher)]))
        return out[0, input_ids.shape[1]:].tolist()

    plain = generate(grammar.matcher())
    assert len(plain) == budget and vocab.eos_token_id not in plain  # cut off without the budget
    ids = generate(grammar.matcher(budget=budget))
    assert len(ids) <= budget and ids[-1] == vocab.eos_token_id
    value = json.loads(b"".join(vocab.tokens[t] for t in ids[:-1]))
    jsonschema.validate(value, schema)
