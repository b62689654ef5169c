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

import os

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
    return {name: run(cases, engines, smollm2_tokenizer, workers="none") for name, cases in suites.items()}


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
                    workers="none")["results"]
    assert [i["pass"] for i in result["instances"]] == [True, True, True]


class _Faulty:
    """The constrain engine, but a schema {"hang": ...} spins and {"die": ...} kills the process."""

    def __init__(self, engine):
        self.engine, self.name = engine, engine.name

    def compile(self, schema):
        if "hang" in schema:
            while True:
                pass
        if "die" in schema:
            os._exit(3)
        return self.engine.compile(schema)

    def cursor(self, compiled):
        return self.engine.cursor(compiled)


@pytest.mark.parametrize("workers", ["fork", "persistent"])
def test_workers_survive_hangs_and_deaths(smollm2_tokenizer, workers):
    """Both worker modes give the in-process results; a case that hangs is a timeout after its CPU
    time, one that kills its worker a crash, and the cases after them still run (a persistent worker
    is replaced)."""
    (engine,), _ = available(["constrain"], smollm2_tokenizer)
    tests = [{"valid": True, "data": 5}, {"valid": False, "data": "x"}]
    good = Case("good", "g", {"type": "integer", "maximum": 9}, tests)
    cases = [good, Case("hang", "g", {"hang": 1}, []), good, Case("die", "g", {"die": 1}, []), good]
    results = run(cases, [_Faulty(engine)], smollm2_tokenizer, workers=workers, timeout=1.0)["results"]
    assert [r["status"] for r in results] == ["compiled", "timeout", "compiled", "crash", "compiled"]
    assert "exit code 3" in results[3]["reason"]
    (alone,) = run([good], [engine], smollm2_tokenizer, workers="none")["results"]
    assert all(r["instances"] == alone["instances"] and schema_passes(r) for r in results[::2])
