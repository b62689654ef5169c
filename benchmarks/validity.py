"""How often each way of asking the default model for JSON gives a value its schema accepts.

    python -m benchmarks.validity [--limit N] [--attempts K] [--cap T] [--timeout S] [--out PREFIX]

Schemas: N from the JSONSchemaBench developer sample (../shared/data/jsonschemabench-dev), stratified by
dataset (`benchmarks.masks.stratified`), among those that pass their metaschema and have a valid
instance `jsonschema` confirms. Model: SmolLM2-135M-Instruct on CPU (`load_default_model`), greedy first.

One prompt per schema, the same for every technique: a request for one example of the data, naming the
schema's title and description when it has them. The schema itself is not in it: constrained decoding
carries it in the mask, and the free strategies show it through `generate_structured`'s own prompt
builder (`strategies.schema_prompt`). Techniques, each through `constrain.generate_structured`:

- prompt only: free generation, the text read with `json.loads` as is. It is the text of the
  "prompt + repair" call (same prompt, greedy), read strictly, so it costs no generation of its own.
- prompt + repair: strategy "repair" (the text read by `repair_json`).
- prompt + repair + retry: strategy "retry", K attempts (later rounds sample hotter).
- constrained: strategy "constrained", budget=False (an output cut off by max_new_tokens is invalid).
- constrained + budget: strategy "constrained", budget=True (budget-aware completion: the mask keeps
  room to close the value within max_new_tokens).
- auto: strategy "auto", K attempts, the other keywords at their defaults (falls back to retry when
  the schema is unsupported).
A technique whose keywords `generate_structured` does not take is reported "not available".

max_new_tokens, per schema, the same for every technique: 1.5 x the tokens of the schema's smallest
valid instance written as `json.dumps(value, indent=2)` (the layout free generation tends to use;
constrained output is compact, so it has more room), + 16 for a code fence or a closing remark,
clamped to [32, T] (T = --cap, default 256).

Measures, per technique over the N schemas: JSON-valid % (the technique's reading of its text gives a
value: `json.loads` for prompt only and the constrained ones, `repair_json` for the repairing ones),
schema-valid % (that value passes `jsonschema`: the draft of `$schema`, 2020-12 by default, formats
asserted with the 2020-12 format checker; `benchmarks.masks.is_valid`), truncated % (the chosen output
was cut off by max_new_tokens), mean new tokens (generated over all attempts), tokens per second (those
tokens over the wall time of the calls, compile included), mean attempts. Rates count every schema:
one the technique could not run (unsupported by constrain, prompt over the model's context, budget too
small, timeout, an exception) counts as not valid and in its own column. Where our jsonschema verdict and the
result's `valid` disagree, the schema is listed (a bug in constrain).

Each schema runs in a forked worker (the model, the vocabulary and compiled kernels are warmed up in the
parent and shared; constrain's caches start fresh per schema), and each call gets --timeout CPU
seconds: over them the kernel ends the worker, the call counts as a timeout and a new worker goes on
with the other techniques. One torch thread by default: on the shared 2-core machine, busy with other
work, two threads generated 4x slower than one (0.65 vs 2.3 tokens/s); tokens per second varies with
the load, which the settings record. Writes PREFIX.json (per schema per technique), PREFIX.md (the
printed tables) and PREFIX.png (rates per technique); default PREFIX benchmarks/results/validity.
"""
from __future__ import annotations

import argparse
import inspect
import json
import math
import multiprocessing
import os
import platform
import resource
import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from benchmarks.masks import BENCH, ROOT, Case, bench_cases, is_valid, stratified
from constrain import GenerationError, RepairError, UnsupportedSchemaError, generate_structured, repair_json
from constrain.errors import BudgetError


@dataclass(frozen=True)
class Technique:
    """One way of asking. call: generate_structured's keywords (None: read from another technique's
    text, `source`); repairs: the text is read with `repair_json` (else `json.loads`)."""

    name: str
    call: dict | None
    repairs: bool
    source: str | None = None


def techniques(attempts: int) -> list[Technique]:
    return [
        Technique("prompt only", None, False, source="prompt + repair"),
        Technique("prompt + repair", {"strategy": "repair"}, True),
        Technique(f"prompt + repair + retry (k={attempts})", {"strategy": "retry", "attempts": attempts}, True),
        Technique("constrained", {"strategy": "constrained", "budget": False}, False),
        Technique("constrained + budget", {"strategy": "constrained", "budget": True}, False),
        Technique(f"auto (k={attempts})", {"strategy": "auto", "attempts": attempts}, True),
    ]


def available(technique: Technique) -> bool:
    """Whether `generate_structured` takes every keyword the technique needs."""
    params = inspect.signature(generate_structured).parameters
    return technique.call is None or all(k in params for k in technique.call)


# ---------------------------------------------------------------- schemas and prompts

def usable(case: Case) -> Any | None:
    """The schema's smallest valid instance (by its indented length) that jsonschema confirms, or None
    when there is none or the schema fails its metaschema (no verdict could be trusted)."""
    cls = jsonschema.validators.validator_for(case.schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(case.schema)
    except jsonschema.SchemaError:
        return None
    valid = []
    for test in case.tests:
        try:
            if test["valid"] and is_valid(case.schema, test["data"]):
                valid.append(test["data"])
        except Exception:  # an instance jsonschema cannot check (bad pattern, unresolvable $ref)
            continue
    return min(valid, key=lambda v: len(json.dumps(v, indent=2)), default=None)


def prompt_for(schema: Any) -> str:
    """The request: one example of the data, about the schema's own title and description if any."""
    about = [str(schema.get(k)).strip() for k in ("title", "description")
             if isinstance(schema, dict) and isinstance(schema.get(k), str) and schema[k].strip()]
    topic = " for: " + " - ".join(about)[:300] if about else ""
    return f"Write one realistic example of the JSON data{topic}."


def new_tokens_for(tokenizer, instance: Any, cap: int) -> int:
    """max_new_tokens: see the module docstring."""
    n = len(tokenizer(json.dumps(instance, indent=2), add_special_tokens=False)["input_ids"])
    return max(32, min(cap, math.ceil(1.5 * n) + 16))


# ---------------------------------------------------------------- one schema

def call(model, tokenizer, case: Case, prompt: str, technique: Technique, max_new_tokens: int) -> tuple:
    """(status, result or message, wall seconds) of one `generate_structured` call."""
    start = time.perf_counter()
    try:
        result = generate_structured(model, tokenizer, prompt, schema=case.schema, max_new_tokens=max_new_tokens,
                                     seed=0, **technique.call)
        return "ok", result, time.perf_counter() - start
    except UnsupportedSchemaError as e:
        return "unsupported", str(e), time.perf_counter() - start
    except BudgetError as e:
        return "budget too small", str(e), time.perf_counter() - start
    except GenerationError as e:
        return "error", str(e), time.perf_counter() - start
    except Exception as e:  # a bug in constrain: reported, and the other techniques go on
        return "crash", f"{type(e).__name__}: {e}", time.perf_counter() - start


def read(text: str, schema: Any, repairs: bool) -> tuple[bool, Any]:
    """(the text gave a JSON value, the value) as the technique reads its text."""
    try:
        return True, repair_json(text, schema if isinstance(schema, dict) else None) if repairs else json.loads(text)
    except (RepairError, ValueError):
        return False, None


def check(schema: Any, value: Any) -> bool:
    try:
        return is_valid(schema, value)
    except Exception:  # jsonschema could not decide (e.g. a pattern its regex engine rejects): not valid
        return False


def score(case: Case, technique: Technique, status: str, result: Any, seconds: float) -> dict:
    """One technique's row for one schema."""
    if status != "ok":
        return {"status": status, "message": result, "seconds": round(seconds, 3)}
    json_valid, value = read(result.text, case.schema, technique.repairs)
    schema_valid = json_valid and check(case.schema, value)
    row = {"status": "ok", "json_valid": json_valid, "schema_valid": schema_valid,
           "truncated": not result.complete, "output_tokens": len(result.token_ids), "text": result.text}
    if technique.call is None:  # read from another technique's generation: no cost, no verdict of its own
        return row
    return {**row, "result_valid": result.valid, "disagrees": result.valid != schema_valid,
            "method": result.method, "attempts": result.attempts, "new_tokens": result.tokens_used,
            "seconds": round(seconds, 3), "errors": result.errors[:3]}


def _worker(conn, model, tokenizer, case: Case, prompt: str, max_new_tokens: int, todo: list[Technique],
            derived: list[Technique], cpu_limit: float) -> None:
    """Run the calls of `todo` in order, sending (name, row) for each and for the techniques read from
    it; each call gets `cpu_limit` more CPU seconds (over them the kernel ends the process)."""
    try:
        for technique in todo:
            used = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
            resource.setrlimit(resource.RLIMIT_CPU, (math.ceil(used + cpu_limit), resource.RLIM_INFINITY))
            outcome = call(model, tokenizer, case, prompt, technique, max_new_tokens)
            conn.send((technique.name, score(case, technique, *outcome)))
            for other in derived:
                if other.source == technique.name:
                    conn.send((other.name, score(case, other, outcome[0], outcome[1], 0.0)))
    finally:
        conn.close()
        os._exit(0)


def run_schema(model, tokenizer, case: Case, instance: Any, chosen: list[Technique], cap: int,
               cpu_limit: float, progress) -> dict:
    """Every technique on one schema, in forked workers (fresh caches per schema, and a call over its
    CPU limit is ended without touching the others): a worker that dies marks its current call
    "timeout" (and what is read from it), and a new worker goes on with the rest."""
    prompt, max_new_tokens = prompt_for(case.schema), new_tokens_for(tokenizer, instance, cap)
    rows = {t.name: {"status": "not available"} for t in chosen if not available(t)}
    calls = [t for t in chosen if t.call is not None and t.name not in rows]
    derived = [t for t in chosen if t.call is None]
    progress.update(shown := len(rows))
    fork = multiprocessing.get_context("fork")
    while calls:
        progress.set_postfix_str(f"{case.id[:28]} {calls[0].name[:16]}")
        ours, theirs = fork.Pipe(duplex=False)
        worker = fork.Process(target=_worker, args=(theirs, model, tokenizer, case, prompt, max_new_tokens, calls,
                                                    derived, cpu_limit))
        worker.start()
        theirs.close()
        try:
            while True:
                name, row = ours.recv()
                rows[name] = row
                progress.update()
                shown += 1
                calls = [t for t in calls if t.name != name]
                if calls:
                    progress.set_postfix_str(f"{case.id[:28]} {calls[0].name[:16]}")
        except EOFError:
            pass
        worker.join()
        if calls:  # the worker died during calls[0]
            dead = ({"status": "timeout", "message": f"over {cpu_limit:g} CPU s"} if worker.exitcode == -signal.SIGXCPU
                    else {"status": "crash", "message": f"worker exit code {worker.exitcode}"})
            rows[calls[0].name] = dead
            rows.update({t.name: dead for t in derived if t.source == calls[0].name})
            calls = calls[1:]
    for t in derived:
        rows.setdefault(t.name, {"status": "not available"})
    progress.update(len(rows) - shown)
    return {"case": case.id, "group": case.group, "prompt": prompt, "max_new_tokens": max_new_tokens,
            "techniques": {t.name: rows[t.name] for t in chosen}}


# ---------------------------------------------------------------- report

RUN_FAILURES = ("unsupported", "budget too small", "error", "timeout", "crash")


def summary(report: dict) -> list[dict]:
    """Per technique: the rates over all schemas and the means over the schemas it ran on."""
    out = []
    for name in report["settings"]["techniques"]:
        rows = [r["techniques"][name] for r in report["results"]]
        ran = [r for r in rows if r["status"] == "ok"]
        statuses = Counter(r["status"] for r in rows)
        if statuses["not available"] == len(rows):
            out.append({"technique": name, "available": False})
            continue
        costed = [r for r in ran if "new_tokens" in r]
        seconds = sum(r["seconds"] for r in costed)

        def pct(key: str) -> float:
            return 100 * sum(r[key] for r in ran) / len(rows)

        def mean(key: str) -> float:
            return sum(r[key] for r in costed) / len(costed) if costed else float("nan")

        out.append({"technique": name, "available": True, "schemas": len(rows),
                    **{s: statuses[s] for s in RUN_FAILURES},
                    "json_valid_pct": pct("json_valid"), "schema_valid_pct": pct("schema_valid"),
                    "truncated_pct": pct("truncated"), "mean_new_tokens": mean("new_tokens"),
                    "tokens_per_s": sum(r["new_tokens"] for r in costed) / seconds if seconds else float("nan"),
                    "mean_attempts": mean("attempts"),
                    "disagreements": [res["case"] for res in report["results"]
                                      if res["techniques"][name].get("disagrees")]})
    return out


def _table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "-" if math.isnan(v) else f"{v:.1f}"
        return str(v)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows])


def tables(report: dict) -> str:
    stats = summary(report)
    s = report["settings"]
    out = [f"{len(report['results'])} schemas of the JSONSchemaBench dev sample, {s['model']} on CPU "
           f"({s['threads']} torch threads), greedy first, max_new_tokens per schema in "
           f"[{min(r['max_new_tokens'] for r in report['results'])}, "
           f"{max(r['max_new_tokens'] for r in report['results'])}] (cap {s['cap']}); "
           f"{s['wall_s']:.0f} s in all. Rates are over all schemas; "
           f"'not run' = unsupported / budget too small / error / timeout / crash.", ""]
    rows = []
    for st in stats:
        if not st["available"]:
            rows.append([st["technique"], "not available", *["-"] * 7])
            continue
        rows.append([st["technique"], "/".join(str(st[k]) for k in RUN_FAILURES), st["json_valid_pct"],
                     st["schema_valid_pct"], st["truncated_pct"], st["mean_new_tokens"], st["tokens_per_s"],
                     st["mean_attempts"], len(st["disagreements"])])
    out.append(_table(["technique", "not run", "JSON-valid %", "schema-valid %", "truncated %", "mean new tokens",
                       "tokens/s", "mean attempts", "verdict disagreements"], rows))
    names = [st["technique"] for st in stats if st["available"]]
    groups = sorted({r["group"] for r in report["results"]})
    out += ["", "Schema-valid per dataset:", ""]
    grid = []
    for g in groups:
        members = [r for r in report["results"] if r["group"] == g]
        grid.append([g, len(members), *(sum(r["techniques"][n].get("schema_valid", False) for r in members)
                                        for n in names)])
    out.append(_table(["dataset", "schemas", *names], grid))
    for st in stats:
        if st["available"] and st["disagreements"]:
            out += ["", f"{st['technique']}: the result's `valid` and jsonschema disagree on: "
                    + ", ".join(st["disagreements"])]
    reasons = Counter((n, r["techniques"][n]["status"], r["techniques"][n]["message"][:90])
                      for r in report["results"] for n in names if r["techniques"][n]["status"] in RUN_FAILURES)
    out += ["", "Not run, by technique and reason:", ""]
    out += [f"- {name}: {status} x{k}: {message}" for (name, status, message), k in reasons.most_common()] or ["- none"]
    return "\n".join(out)


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    stats = [st for st in summary(report) if st["available"]]
    measures = (("json_valid_pct", "JSON-valid"), ("schema_valid_pct", "schema-valid"), ("truncated_pct", "truncated"))
    x = np.arange(len(stats))
    fig, ax = plt.subplots(figsize=(11, 4.8))
    for i, (key, label) in enumerate(measures):
        bars = ax.bar(x + (i - 1) * 0.27, [st[key] for st in stats], 0.27, label=label)
        ax.bar_label(bars, fmt="%.0f", fontsize=8)
    ax.set_xticks(x, [st["technique"] for st in stats], rotation=12, fontsize=9)
    ax.set_ylabel("% of schemas")
    ax.set_ylim(0, 105)
    ax.legend()
    ax.set_title(f"{report['settings']['model']}, {len(report['results'])} JSONSchemaBench dev schemas")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------- command line

def measure(args: argparse.Namespace) -> dict:
    import torch
    from tqdm import tqdm

    from constrain.hf.model import MODEL_NAME, load_default_model

    cases = [(c, v) for c in bench_cases(args.path) if (v := usable(c)) is not None]
    by_id = dict((c.id, v) for c, v in cases)
    chosen_cases = stratified([c for c, _ in cases], args.limit)
    every = techniques(args.attempts)
    wanted = [t for t in every if not args.techniques or any(t.name.startswith(w) for w in args.techniques.split(","))]
    chosen = [t for t in every if t in wanted or any(w.source == t.name for w in wanted)]  # sources kept
    torch.set_num_threads(args.threads)
    model, tokenizer = load_default_model()
    generate_structured(model, tokenizer, "Yes or no?", schema={"type": "boolean"}, max_new_tokens=4)  # warm-up
    load = os.getloadavg()[0]
    started = time.time()
    results = []
    with tqdm(total=len(chosen_cases) * len(chosen), unit="call") as progress:
        for case in chosen_cases:
            results.append(run_schema(model, tokenizer, case, by_id[case.id], chosen, args.cap, args.timeout,
                                      progress))
    return {"settings": {"model": MODEL_NAME, "limit": args.limit, "attempts": args.attempts, "cap": args.cap,
                         "timeout_s": args.timeout, "threads": torch.get_num_threads(),
                         "techniques": [t.name for t in chosen],
                         "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average {load:.1f} at start, {os.getloadavg()[0]:.1f} at end",
                         "commit": _git_head(), "torch": torch.__version__,
                         "wall_s": round(time.time() - started, 1)},
            "results": results}


def _git_head() -> str:
    import subprocess

    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip() or "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=16, help="schemas, stratified by dataset")
    parser.add_argument("--attempts", type=int, default=3, help="K: attempts of retry and auto")
    parser.add_argument("--cap", type=int, default=256, help="the most max_new_tokens of any schema")
    parser.add_argument("--timeout", type=float, default=300.0, help="CPU seconds per call")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (see the module docstring)")
    parser.add_argument("--techniques", help="comma-separated name prefixes (default: all)")
    parser.add_argument("--path", type=Path, default=BENCH, help="the JSONSchemaBench dev folder")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "validity",
                        help="output prefix")
    parser.add_argument("--replot", type=Path, metavar="JSON", help="only redo the tables and plot of a saved run")
    args = parser.parse_args()
    if args.replot:
        report = json.loads(args.replot.read_text())
    else:
        report = measure(args)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    text = tables(report)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(text + "\n")
    plot(report, args.out.with_suffix(".png"))
    print(f"\nwrote {args.out}.md and .png" + ("" if args.replot else " and .json"))


if __name__ == "__main__":
    main()
