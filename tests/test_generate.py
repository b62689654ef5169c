"""End to end on the real default model (SmolLM2-135M-Instruct): few tests, each a handful of generations."""
import json
import re
from pathlib import Path

import lark

import pytest
import torch
from transformers import LogitsProcessorList

from constrain import (ConstrainedLogitsProcessor, GenerationError, compile_choices, compile_regex,
                       generate_structured)
from constrain.__main__ import main
from constrain.generate import prompt_ids, vocabulary_for
from constrain.hf.sample import Sampling, sample_batch
from constrain.strategies import sampling_schedule, schema_validator

pytestmark = pytest.mark.model

EMAIL = r"[a-z0-9._]{1,20}@[a-z0-9]{1,15}\.(com|org|net)"
DATE = r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
CASES = [
    ("Write the email address of a fictional person.", dict(regex=EMAIL), EMAIL),
    ("When did Apollo 11 land on the moon? Answer with a date.", dict(regex=DATE), DATE),
    ("What color is the sky on a clear day?", dict(choices=["red", "blue", "green"]), "red|blue|green"),
]


@pytest.mark.parametrize("prompt, constraint, pattern", CASES, ids=["email", "date", "choices"])
def test_greedy_and_sampled_outputs_match(default_model, prompt, constraint, pattern):
    model, tokenizer = default_model
    greedy = generate_structured(model, tokenizer, prompt, max_new_tokens=64, **constraint)
    sampled = generate_structured(model, tokenizer, [prompt] * 3, max_new_tokens=64, temperature=0.9,
                                  seed=7, **constraint)
    for result in [greedy, *sampled]:
        assert result.complete and result.valid and result.method == "constrained", result
        assert re.fullmatch(pattern, result.text, re.ASCII), result.text
        assert result.value == result.text and result.errors == [] and result.attempts == 1
        assert result.token_ids[-1] == tokenizer.eos_token_id and result.tokens_used == len(result.token_ids)
        assert result.mean_logprob < 0 and set(result.timings) == {"compile", "generate", "check"}
        assert result.seconds == pytest.approx(sum(result.timings.values()))
    assert len({r.text for r in sampled}) >= 1


def test_rows_follow_their_own_constraints(default_model):
    """One batch, two grammars: each row is masked by its own matcher (a padded prompt included)."""
    model, tokenizer = default_model
    vocab = vocabulary_for(model, tokenizer)
    grammars = [compile_regex(r"[0-9]{3}", vocab), compile_choices(["yes", "no"], vocab)]
    prompts = [prompt_ids(tokenizer, "Pick a three digit number."), prompt_ids(tokenizer, "Is water wet?")]
    width = max(map(len, prompts))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else vocab.eos_token_id
    input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    processor = ConstrainedLogitsProcessor([g.matcher() for g in grammars])
    out = model.generate(input_ids=input_ids, attention_mask=attention, max_new_tokens=8, do_sample=False,
                         eos_token_id=vocab.eos_token_id, pad_token_id=pad,
                         logits_processor=LogitsProcessorList([processor]))
    texts = [tokenizer.decode(row[width:], skip_special_tokens=True) for row in out]
    assert re.fullmatch(r"[0-9]{3}", texts[0]) and texts[1] in ("yes", "no"), texts


def test_prompt_longer_than_context_is_a_typed_error(default_model):
    model, tokenizer = default_model
    with pytest.raises(GenerationError, match="context"):
        generate_structured(model, tokenizer, "word " * 9000, regex="a")


@pytest.fixture
def cli(default_model, monkeypatch):
    """`main` on the already loaded default model (loading it again takes seconds)."""
    monkeypatch.setattr("constrain.hf.model.load_default_model", lambda: default_model)
    return main


def test_cli_prints_the_value_and_says_how_on_stderr(cli, capsys, tmp_path):
    assert cli(["What color is grass?", "--choices", "green", "purple"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) in ("green", "purple") and "constrained" in err
    schema = tmp_path / "answer.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"answer": {"enum": ["yes", "no"]}},
                                  "required": ["answer"], "additionalProperties": False}))
    assert cli(["Is water wet?", "--schema", str(schema), "--max-new-tokens", "12", "--details"]) == 0
    out, err = capsys.readouterr()
    details = json.loads(out)
    assert details["value"] in ({"answer": "yes"}, {"answer": "no"}) and details["valid"] is True
    assert details["method"] == "constrained" and details["attempts"] == 1 and err == ""
    assert cli(["Is water wet?", "--schema", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err


SHIPPED = Path(__file__).parent.parent / "grammars"


@pytest.mark.parametrize("name, prompt", [
    ("sql", "Table employees(id, name, salary, dept). Write an SQL query that lists the names of "
            "employees in the 'sales' department earning more than 50000."),
    ("arithmetic", "Write an arithmetic expression that computes the total price of 3 items at 4.5 each plus 2 shipping."),
])
def test_shipped_grammars_on_the_real_model(default_model, name, prompt):
    model, tokenizer = default_model
    grammar = (SHIPPED / f"{name}.lark").read_text()
    result = generate_structured(model, tokenizer, prompt, grammar=SHIPPED / f"{name}.lark", max_new_tokens=80)
    # greedy SmolLM2 would repeat `- 1.4 * 2` until max_new_tokens; the budget closes it in time
    assert result.valid and result.complete, result
    lark.Lark(grammar, parser="earley", lexer="dynamic_complete").parse(result.text)


DAYS = {"type": "integer", "minimum": 1, "maximum": 100}
DAYS_PROMPT = "How many days are in a week? Answer with a number."


def test_retry_reaches_a_valid_value_where_prompt_only_greedy_fails(default_model):
    """Shown the schema, greedy SmolLM2 copies it (`{"type": "integer", ...`): invalid. Sampled retries
    with the validator's verdict reach a bare number in range."""
    model, tokenizer = default_model
    greedy = generate_structured(model, tokenizer, DAYS_PROMPT, schema=DAYS, strategy="repair", max_new_tokens=8)
    assert not greedy.valid and greedy.value is None and greedy.method == "repaired", greedy
    assert greedy.errors and greedy.errors[0].startswith("$: "), greedy.errors
    retried = generate_structured(model, tokenizer, DAYS_PROMPT, schema=DAYS, strategy="retry", attempts=3,
                                  best_of=8, max_new_tokens=8, seed=3)
    assert retried.valid and retried.method == "retried" and retried.attempts >= 2, retried
    assert schema_validator(DAYS).is_valid(retried.value) and retried.errors == []
    assert retried.tokens_used > len(retried.token_ids)


def forward_mean_logprob(model, prompt: list[int], new: list[int]) -> float:
    """Mean log-softmax of the raw logits at each new token, from one forward pass over prompt + new."""
    with torch.no_grad():
        logits = model(torch.tensor([prompt + new])).logits[0, len(prompt) - 1:-1].float()
    return torch.log_softmax(logits, -1).gather(1, torch.tensor(new)[:, None]).mean().item()


def test_best_of_n_keeps_the_valid_candidate_with_the_highest_mean_logprob(default_model):
    model, tokenizer = default_model
    prompt, pattern = "Write the email address of a fictional person.", r"[a-z]{1,8}@[a-z]{1,8}\.(com|org)"
    best = generate_structured(model, tokenizer, prompt, regex=pattern, best_of=4, attempts=1, max_new_tokens=12,
                               seed=5, budget=False)
    # the same round again (same seed, same batch), to see every candidate
    vocab, ids = vocabulary_for(model, tokenizer), prompt_ids(tokenizer, prompt)
    matchers = [compile_regex(pattern, vocab).matcher() for _ in range(4)]
    sampling = sampling_schedule(1, Sampling(seed=5), best_of=4)[0]
    samples = sample_batch(model, vocab, [ids] * 4, sampling, max_new_tokens=12, pad_token_id=tokenizer.pad_token_id,
                           matchers=matchers)
    scores = [forward_mean_logprob(model, ids, s.token_ids) for s in samples]
    for sample, score in zip(samples, scores):
        assert sample.mean_logprob == pytest.approx(score, abs=1e-3)
    valid = [k for k, m in enumerate(matchers) if m.is_accepting()]
    assert valid and len({s.mean_logprob for s in samples}) > 1, samples
    chosen = max(valid, key=lambda k: scores[k])
    assert best.valid and best.token_ids == samples[chosen].token_ids, (best, samples)
    assert best.mean_logprob == pytest.approx(scores[chosen], abs=1e-3) and best.tokens_used == sum(
        len(s.token_ids) for s in samples)


NAME = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


def test_strategy_selection(default_model):
    """auto: constrained when the schema compiles, repaired when the budget is off and the output is cut,
    free when the schema is unsupported; a batch gives one result per prompt."""
    model, tokenizer = default_model
    prompts = ["Invent a fictional person.", "Name a famous scientist."]
    both = generate_structured(model, tokenizer, prompts, schema=NAME, max_new_tokens=16)
    assert [r.prompt for r in both] == prompts
    for r in both:
        assert r.valid and r.method == "constrained" and r.complete and json.loads(r.text) == r.value, r
    cut = dict(schema={**NAME, "properties": {"name": {"type": "string", "minLength": 30}}}, max_new_tokens=6,
               budget=False)
    constrained = generate_structured(model, tokenizer, prompts[0], strategy="constrained", **cut)
    assert not constrained.valid and not constrained.complete and "cut off" in constrained.errors[0], constrained
    auto = generate_structured(model, tokenizer, prompts[0], attempts=1, **cut)
    assert auto.method == "repaired" and auto.text == constrained.text, auto  # read by repair_json,
    assert not auto.valid and auto.errors and auto.value is None, auto  # but 6 tokens cannot hold the value
    unique = {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}
    free = generate_structured(model, tokenizer, "Give three numbers.", schema=unique, attempts=1, max_new_tokens=8)
    assert free.method == "repaired" and free.attempts == 1, free  # constrained would say "constrained"
    assert free.valid == (free.errors == []) and (free.value is None) != free.valid, free
