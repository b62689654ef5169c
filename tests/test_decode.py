"""The fast-forward decode loop against `model.generate` with the logits processor, on the real model."""
import pytest
import torch

from constrain import compile_regex
from constrain.generate import _grammar, prompt_ids, vocabulary_for
from constrain.hf.decode import only_token
from constrain.hf.sample import Sampling, sample_batch

PERSON = {"type": "object", "additionalProperties": False, "required": ["name", "age", "city"],
          "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer"},
                         "city": {"type": "string", "maxLength": 12}}}
TAGS = {"type": "object", "required": ["tags", "ok"], "additionalProperties": False,
        "properties": {"tags": {"type": "array", "items": {"enum": ["red", "green"]}, "maxItems": 3},
                       "ok": {"type": "boolean"}}}


def test_only_token_is_the_single_allowed_one():
    mask = torch.zeros(50, dtype=torch.bool)
    assert only_token(mask) is None
    mask[37] = True
    assert only_token(mask) == 37
    mask[3] = True
    assert only_token(mask) is None


def both_ways(model, tokenizer, spec, prompts, sampling, max_new_tokens, budget=True):
    """(generate samples, generate matchers, decode samples, decode matchers) for one batch."""
    vocab = vocabulary_for(model, tokenizer)
    grammar = _grammar(vocab, spec) if isinstance(spec, tuple) else spec
    encoded = [prompt_ids(tokenizer, p) for p in prompts]
    out = []
    for fast_forward in (False, True):
        matchers = [grammar.matcher(budget=max_new_tokens if budget else None) for _ in encoded]
        samples = sample_batch(model, vocab, encoded, sampling, max_new_tokens=max_new_tokens,
                               pad_token_id=vocab.eos_token_id, matchers=matchers, fast_forward=fast_forward)
        out += [samples, matchers]
    return out


@pytest.mark.model
@pytest.mark.parametrize("spec, prompts, max_new_tokens, budget", [
    (("schema", PERSON), ["Describe a person as JSON."], 64, True),
    (("schema", TAGS), ["Give tags as JSON.", "Write a JSON object with tags and ok, please, now."], 48, True),
    (("regex", r"(Mon|Tues|Wednes)day, [0-9]{2} (January|February)"), ["What day is it?"] * 2, 24, True),
    (("schema", PERSON), ["Describe a person as JSON.", "A person:"], 9, False),  # cut off inside forced runs
], ids=["person", "tags-padded-batch", "regex", "cut-off"])
def test_greedy_outputs_are_those_of_generate(default_model, spec, prompts, max_new_tokens, budget):
    model, tokenizer = default_model
    old, old_matchers, new, new_matchers = both_ways(model, tokenizer, spec, prompts, Sampling(), max_new_tokens,
                                                     budget)
    for a, b, ma, mb in zip(old, new, old_matchers, new_matchers):
        assert b.token_ids == a.token_ids and b.complete == a.complete
        assert b.mean_logprob == pytest.approx(a.mean_logprob, abs=1e-4)
        assert len(b.token_ids) <= max_new_tokens and a.forced == 0
        assert (mb.num_tokens, mb.is_accepting()) == (ma.num_tokens, ma.is_accepting())
    assert sum(s.forced for s in new) > 0  # every case has a token only the constraint could give


@pytest.mark.model
def test_seeded_sampling_matches_generate_when_nothing_is_forced(default_model):
    """No step before EOS has a single allowed token, so both loops draw the same random numbers."""
    model, tokenizer = default_model
    grammar = compile_regex(r"[a-z ]{1,30}\.", vocabulary_for(model, tokenizer))
    sampling = Sampling(temperature=0.9, top_p=0.8, seed=11)
    old, _, new, matchers = both_ways(model, tokenizer, grammar, ["Say something short."], sampling, 40)
    assert new[0].token_ids == old[0].token_ids and new[0].forced <= 1  # EOS after "." is forced
    assert new[0].mean_logprob == pytest.approx(old[0].mean_logprob, abs=1e-4)
    hotter = Sampling(temperature=1.5, top_p=1.0, seed=5)
    _, _, rows, matchers = both_ways(model, tokenizer, grammar, ["Say something.", "Hi"], hotter, 40)
    assert all(m.is_accepting() for m in matchers) and all(s.complete for s in rows)
