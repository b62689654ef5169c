"""The model-free parts of `generate_structured`: schedule, candidate choice, prompts, reading and checking
outputs, argument errors. Matchers and tokens are real (SmolLM2 vocabulary); no model runs here."""
import json

import pytest
import torch

from constrain import (GenerationError, SchemaError, compile_json_schema, compile_regex,
                       generate_structured)
from constrain.hf.sample import LogProbRecorder, Sample, Sampling
from constrain.strategies import (RETRY_TEMPERATURES, RETRY_TOP_P, Candidate, best_candidate, feedback_prompt,
                                  judge, output_text, sampling_schedule, schema_prompt, schema_validator)

PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
          "required": ["name", "age"]}


def test_schedule_starts_as_asked_then_samples_hotter_with_fresh_seeds():
    rounds = sampling_schedule(5, Sampling(0.0, 1.0, 10))
    assert rounds[0] == Sampling(0.0, 1.0, 10)
    assert [r.temperature for r in rounds[1:]] == [*RETRY_TEMPERATURES, RETRY_TEMPERATURES[-1]]
    assert all(r.top_p == RETRY_TOP_P for r in rounds[1:])
    assert [r.seed for r in rounds] == [10, 11, 12, 13, 14]


def test_schedule_keeps_the_callers_hotter_settings_and_unseeded_generator():
    rounds = sampling_schedule(3, Sampling(1.5, 0.5, None))
    assert all(r.temperature == 1.5 and r.top_p == 0.5 and r.seed is None for r in rounds)
    assert len(sampling_schedule(1, Sampling())) == 1


def test_several_candidates_are_never_all_greedy():
    rounds = sampling_schedule(2, Sampling(0.0, 1.0, 3), best_of=4)
    assert rounds[0] == Sampling(RETRY_TEMPERATURES[0], RETRY_TOP_P, 3)
    assert rounds[1].temperature == RETRY_TEMPERATURES[0] and rounds[1].seed == 4
    assert sampling_schedule(1, Sampling(0.8, 0.9, 3), best_of=4)[0] == Sampling(0.8, 0.9, 3)


def candidate(logprob: float, valid: bool, text: str = "") -> Candidate:
    return Candidate(text, text if valid else None, valid, [] if valid else ["bad"], "repaired",
                     Sample([1, 2], True, logprob))


def test_best_candidate_is_the_likeliest_valid_one():
    picked = best_candidate([candidate(-0.1, False, "a"), candidate(-2.0, True, "b"), candidate(-0.5, True, "c"),
                             candidate(-0.5, True, "d")])
    assert picked.text == "c"  # -0.1 is likelier but invalid; "d" ties with "c" and comes later


def test_without_a_valid_candidate_the_likeliest_failure_is_kept():
    assert best_candidate([candidate(-3.0, False, "a"), candidate(-1.0, False, "b")]).text == "b"


def test_prompt_builders_carry_the_schema_and_the_rejection():
    prompt = schema_prompt("Invent a person.", PERSON)
    assert prompt.startswith("Invent a person.\n\n")
    assert json.loads(prompt.splitlines()[-1]) == PERSON
    again = feedback_prompt(prompt, '{"name": "Ann"}', ["$: 'age' is a required property"])
    assert again.startswith(prompt) and '{"name": "Ann"}' in again and "'age' is a required property" in again


def test_validator_follows_the_draft_asserts_formats_and_rejects_bad_schemas():
    draft7 = schema_validator({"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"type": "string"}]})
    assert not draft7.is_valid([1]) and draft7.is_valid(["a", 1])  # tuple `items` exists in draft 7 only
    assert not schema_validator({"type": "string", "format": "email"}).is_valid("not an email")
    assert schema_validator(json.dumps(PERSON)).schema == PERSON
    with pytest.raises(SchemaError) as info:
        schema_validator({"properties": {"a": {"type": "strin"}}})
    assert info.value.pointer == "#/properties/a/type"


def free(text: str, schema=PERSON) -> Candidate:
    return judge(Sample([], True, 0.0), text, matcher=None, validator=schema_validator(schema), repair=True,
                 max_new_tokens=50)


def test_free_text_is_repaired_then_validated():
    got = free('Sure! ```json\n{"name": "Ann", "age": "41",}\n```')
    assert got.valid and got.method == "repaired" and got.value == {"name": "Ann", "age": 41} and got.errors == []
    wrong = free('{"name": "Ann", "age": -1}')
    assert not wrong.valid and wrong.value is None and wrong.errors == ["$.age: -1 is less than the minimum of 0"]
    prose = free("Ann is forty-one.")
    assert not prose.valid and prose.errors[0].startswith("no JSON value found")


def tokens(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def test_constrained_text_is_read_as_is_and_cut_text_only_with_repair(smollm2_tokenizer, smollm2_vocab):
    grammar, validator = compile_json_schema(PERSON, smollm2_vocab), schema_validator(PERSON)

    def constrained(text: str, repair: bool) -> Candidate:
        matcher = grammar.matcher()
        assert matcher.advance_many(tokens(smollm2_tokenizer, text))
        return judge(Sample([], False, 0.0), text, matcher=matcher, validator=validator, repair=repair,
                     max_new_tokens=7)

    whole = constrained('{"name": "Ann", "age": 41}', repair=False)
    assert whole.valid and whole.method == "constrained" and whole.value == {"name": "Ann", "age": 41}
    cut = constrained('{"name": "Ann", "age', repair=False)
    assert not cut.valid and cut.errors == ["cut off by max_new_tokens=7 before the output was complete"]
    repaired = constrained('{"name": "Ann", "age', repair=True)
    assert repaired.method == "repaired" and not repaired.valid
    assert repaired.errors == ["$: 'age' is a required property"]  # the repairer drops a key without value


def test_regex_validity_is_the_constraint_accepting_the_whole_text(smollm2_tokenizer, smollm2_vocab):
    matcher = compile_regex(r"\d{4}-\d{2}", smollm2_vocab).matcher()
    ids = tokens(smollm2_tokenizer, "2024-0")
    assert matcher.advance_many(ids)
    sample = Sample(ids, False, 0.0)
    cut = judge(sample, output_text(smollm2_vocab, ids), matcher=matcher, validator=None, repair=True,
                max_new_tokens=len(ids))
    assert not cut.valid and cut.value is None and cut.text == "2024-0"
    assert matcher.advance(tokens(smollm2_tokenizer, "1")[0])
    whole = judge(sample, "2024-01", matcher=matcher, validator=None, repair=True, max_new_tokens=9)
    assert whole.valid and whole.value == "2024-01" and whole.errors == []


def test_output_text_drops_eos_and_special_tokens(smollm2_tokenizer, smollm2_vocab):
    ids = tokens(smollm2_tokenizer, "ok") + [smollm2_vocab.eos_token_id]
    special = min(smollm2_vocab.special_token_ids - {smollm2_vocab.eos_token_id})
    assert output_text(smollm2_vocab, [special] + ids) == "ok"


def test_recorder_scores_each_chosen_token_by_the_raw_logits():
    recorder = LogProbRecorder()
    steps = [torch.tensor([[0.0, 1.0, 2.0], [3.0, 0.0, 0.0]]), torch.tensor([[1.0, 1.0, 1.0], [0.0, 5.0, 0.0]])]
    chosen = [torch.tensor([2, 0]), torch.tensor([1, 1])]
    history = torch.zeros(2, 4, dtype=torch.long)
    for step, scores in enumerate(steps):
        if step:
            history = torch.cat([history, chosen[step - 1][:, None]], dim=1)
        assert recorder(history, scores) is scores  # the logits go on untouched
    got = recorder.finish(chosen[-1])
    expected = torch.stack([torch.log_softmax(s, -1).gather(1, c[:, None]).squeeze(1)
                            for s, c in zip(steps, chosen)], dim=1)
    assert torch.allclose(got, expected)


@pytest.mark.parametrize("kwargs, message", [
    (dict(regex="a", choices=["a"]), "exactly one of schema, regex, grammar, choices \\(got regex, choices\\)"),
    (dict(), "got none"),
    (dict(regex="a", strategy="beam"), "unknown strategy 'beam'"),
    (dict(regex="a", attempts=0), "attempts must be at least 1, got 0"),
    (dict(regex="a", best_of=0), "best_of must be at least 1"),
    (dict(schema=PERSON, strategy="repair", attempts=2), "'repair' makes one attempt"),
    (dict(regex="a", strategy="retry"), "needs schema="),
    (dict(regex="a", temperature=-1.0), "temperature"),
    (dict(regex="a", top_p=0.0), "top_p"),
    (dict(regex="a", max_new_tokens=0), "max_new_tokens"),
])
def test_bad_arguments_are_typed_errors_before_any_model_work(kwargs, message):
    with pytest.raises(GenerationError, match=message):
        generate_structured(None, None, "prompt", **kwargs)


def test_no_prompt_and_bad_schemas_are_typed_errors():
    with pytest.raises(GenerationError, match="no prompt"):
        generate_structured(None, None, [], regex="a")
    with pytest.raises(SchemaError, match="not valid JSON"):
        generate_structured(None, None, "prompt", schema="{not json")
