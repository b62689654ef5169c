"""JSON Schema masks on fixed subsets of JSONSchemaBench and JSON-Schema-Test-Suite, constrain only.

The cases go through `benchmarks/masks.py` (the MaskBench harness: `python -m benchmarks.masks`),
so this test and the benchmark check instances the same way: each in its `json.dumps` layout,
teacher-forced token by token through the masks, scored against `jsonschema`'s verdict; a valid
instance whose keys are not in schema order is skipped. No instance may be wrongly rejected or
accepted; unsupported schemas are allowed, but fewer compiled schemas than the floors below is a
coverage regression. KNOWN_FAILURES are cases that fail today, each with its cause: the test insists
they still fail, so a fix shows up here and its entry is removed.
"""
from __future__ import annotations

import pytest

from benchmarks.engines import available
from benchmarks.masks import (
    TEST_SUITE,
    Case,
    bench_cases,
    counts,
    run,
    schema_passes,
    stratified,
    suite_cases,
)

BENCH_SCHEMAS = 40  # stratified by dataset: 176 instances
SUITE_FILES = sorted(p.name for p in (TEST_SUITE / "draft2020-12").glob("*.json"))  # the required ones
FLOORS = {"bench": 33, "test-suite": 191}  # compiled schemas, at least
KNOWN_FAILURES: dict[str, str] = {}


def _known(case_id: str) -> str | None:
    return KNOWN_FAILURES.get(case_id.split(" ")[0])


@pytest.fixture(scope="module")
def reports(smollm2_tokenizer) -> dict[str, dict]:
    engines, missing = available(["constrain"], smollm2_tokenizer)
    assert not missing
    suites = {"bench": stratified(bench_cases(), BENCH_SCHEMAS), "test-suite": suite_cases(files=SUITE_FILES)}
    return {name: run(cases, engines, smollm2_tokenizer, isolate=False) for name, cases in suites.items()}


@pytest.mark.parametrize("suite", ["bench", "test-suite"])
def test_no_wrong_mask(reports, suite):
    results = reports[suite]["results"]
    c = counts(results)
    print(f"\n{suite}: {dict(c)}")
    wrong = [f"{r['case']}: {r['status']} {r.get('reason', '')}"
             + "".join(f" | instance {i['index']} {'valid rejected' if i['valid'] else 'invalid accepted'}"
                       for i in r.get("instances", ()) if not i["pass"])
             for r in results if r["status"] != "unsupported" and not schema_passes(r) and not _known(r["case"])]
    assert not wrong, "\n".join(wrong)
    assert c["compiled"] >= FLOORS[suite], f"coverage regression: {c['compiled']} compiled, floor {FLOORS[suite]}"


def test_known_failures_still_fail(reports):
    results = reports["test-suite"]["results"]
    fixed = [f"{r['case']} ({_known(r['case'])})" for r in results if _known(r["case"]) and schema_passes(r)]
    assert not fixed, "now passing, remove from KNOWN_FAILURES: " + "; ".join(fixed)
    assert set(KNOWN_FAILURES) <= {r["case"].split(" ")[0] for r in results}


def test_control_token_text_in_an_instance_is_data(smollm2_tokenizer):
    """An instance holding a control token's text (`"<|endoftext|>"`, found by `benchmarks.fuzz`) is
    teacher-forced as the ordinary tokens a model would write, not as the control token (which ends an
    output, and which no engine allows inside a string): the valid ones pass, the invalid one fails."""
    engines, _ = available(["constrain"], smollm2_tokenizer)
    tests = [{"valid": True, "data": "<|endoftext|>"}, {"valid": True, "data": "a <|im_start|> b"},
             {"valid": False, "data": 7}]
    (result,) = run([Case("control", "control", {"type": "string"}, tests)], engines, smollm2_tokenizer,
                    isolate=False)["results"]
    assert [i["pass"] for i in result["instances"]] == [True, True, True]
