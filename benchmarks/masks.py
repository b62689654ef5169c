"""MaskBench for JSON Schema: correctness and speed of the token masks of constrain and its peers.

    python -m benchmarks.masks [--suite bench|test-suite|folder] [--path DIR] [--limit N]
        [--engines constrain,xgrammar,llguidance,outlines-core] [--timeout S] [--memory-gb G]
        [--vocab smollm2|qwen|TOKENIZER_DIR] [--workers fork|persistent] [--out PREFIX]

Suites: `bench`, the JSONSchemaBench developer sample (../shared/data/jsonschemabench-dev, instances
from its INSTANCES.jsonl, one group per dataset); `folder`, any folder of MaskBench files
`{"schema": ..., "tests": [{"valid": ..., "data": ...}]}` (group: the `<dataset>---` file name prefix);
`test-suite`, JSON-Schema-Test-Suite draft 2020-12 (../shared/data/json-schema-test-suite, one case per
schema group, one group per file, `optional/` included). `--limit N` takes N cases stratified by group.

Method: every instance is written as `json.dumps(data)` (Python's default separators `", "` and
`": "`, non-ASCII escaped: constrain's "compact" layout, which every engine is configured for as far
as it can be, see `benchmarks/engines.py`), tokenized canonically as data (`vocabs.text_ids`: a
control token's text spelled with ordinary tokens), plus EOS, and teacher-forced:
before each token the mask is computed, and the token must be in it. A valid instance passes when
every token and EOS are allowed, an invalid one when some token or EOS is refused. Validity is
re-checked with `jsonschema` (formats asserted with the 2020-12 format checker); an instance whose
label it disagrees with, or cannot check, is not scored (neither verdict can be trusted) but listed.
Valid instances whose objects do not list their keys in schema order (`in_schema_order`) are skipped
and counted: the engines emit properties in the schema's order.
A schema passes when it compiled and all its instances pass.

Each (schema, engine) runs in a forked worker with a CPU-time limit (compile and all instances; the
wall clock only catches idle hangs) and an address-space cap, so a hang or a blow-up is counted as
timeout or crash, not fatal (one-time per-process setup, like constrain's vocabulary trie, is done
before the fork, as a server would have it). By default every (schema, engine) gets a new worker, so
each schema starts as cold as the first; `--workers persistent` keeps one worker per engine for all
schemas, as MaskBench's own runner does (replaced after a timeout or crash): what an engine caches
across schemas, and its code paths warmed by earlier schemas, carry over, as in a long-running
server. The parent's objects are frozen out of the garbage collector at each fork (`gc.freeze`, as
Python's documentation advises for forked workers): a worker's collections traverse what the engine
allocated, not the harness's own data (its cases, its tokenizer), which in a worker would also mean
copying every page they lie on. One thread everywhere. Times are CPU time of the worker process,
the timer's own cost subtracted (the machine is shared: wall time would bill other processes' load
and preemptions to the engines). Time to first
mask (TTFM) = compile + first mask.
Per-token times are split into the mask and the advance (engines divide the work differently between
them); both are reported.

Writes PREFIX.json (per schema per engine), PREFIX.md (the printed tables) and PREFIX.png (per-token
time distribution per engine). `tests/test_schema_suites.py` runs a fixed subset through this code.
"""
from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import resource
import signal
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT202012

from benchmarks.engines import Engine, Unsupported, available
from benchmarks.vocabs import load_tokenizer, text_ids
from constrain.schema import FORMAT_CHECKER

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
BENCH = DATA / "jsonschemabench-dev"
TEST_SUITE = DATA / "json-schema-test-suite"
REMOTES_URL = "http://localhost:1234/"  # where the test suite expects its `remotes/` folder served
PERCENTILES = (25, 50, 75, 90, 95, 99, 99.9)


# ---------------------------------------------------------------- cases

@dataclass
class Case:
    """One schema and its instances; `group` is the dataset (bench) or file (test suite)."""
    id: str
    group: str
    schema: Any
    tests: list[dict]  # {"valid": bool, "data": ..., "description"?: str}


def bench_cases(folder: Path = BENCH) -> list[Case]:
    cases = []
    for line in (folder / "INSTANCES.jsonl").read_text().split("\n"):
        if line:
            entry = json.loads(line)
            schema = json.loads((folder / entry["file"]).read_text())
            cases.append(Case(entry["file"], entry["file"].split("/")[0], schema, entry["tests"]))
    return cases


def folder_cases(folder: Path) -> list[Case]:
    cases = []
    for path in sorted(folder.rglob("*.json")):
        entry = json.loads(path.read_text())
        if isinstance(entry, dict) and "schema" in entry and entry.get("tests"):
            name = str(path.relative_to(folder))
            group = path.name.split("---")[0] if "---" in path.name else str(path.parent.relative_to(folder))
            cases.append(Case(name, group, entry["schema"], entry["tests"]))
    return cases


def suite_cases(folder: Path = TEST_SUITE, files: Iterable[str] | None = None) -> list[Case]:
    """One case per schema group of draft2020-12 (files relative to it, e.g. `optional/bignum.json`)."""
    base = folder / "draft2020-12"
    paths = [base / f for f in files] if files is not None else sorted(base.rglob("*.json"))
    cases = []
    for path in paths:
        name = str(path.relative_to(base))
        for i, group in enumerate(json.loads(path.read_text())):
            cases.append(Case(f"{name}#{i} {group['description']}", name, group["schema"], group["tests"]))
    return cases


def stratified(cases: list[Case], limit: int | None) -> list[Case]:
    """`limit` cases, each group getting its share (largest remainders), evenly spaced within it."""
    if limit is None or limit >= len(cases):
        return cases
    groups: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        groups[case.group].append(case)
    quota = {g: limit * len(members) / len(cases) for g, members in groups.items()}
    take = {g: int(q) for g, q in quota.items()}
    for g in sorted(quota, key=lambda g: take[g] - quota[g])[:limit - sum(take.values())]:
        take[g] += 1
    chosen = {id(members[int(i * len(members) / take[g])]) for g, members in groups.items() for i in range(take[g])}
    return [case for case in cases if id(case) in chosen]


# ---------------------------------------------------------------- instances

def _retrieve(uri: str) -> Resource:
    """The test suite's remotes from disk; nothing is ever fetched from the network."""
    path = TEST_SUITE / "remotes" / uri[len(REMOTES_URL):] if uri.startswith(REMOTES_URL) else None
    if path is None or not path.is_file():
        raise NoSuchResource(ref=uri)
    return Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT202012)


REGISTRY = Registry(retrieve=_retrieve)


def is_valid(schema: Any, value: Any) -> bool:
    """`jsonschema`'s verdict for the schema's draft (2020-12 by default), formats asserted with the
    2020-12 format checker whatever the draft (constrain enforces the formats it supports in all)."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    checker = FORMAT_CHECKER
    return cls(schema, format_checker=checker, registry=REGISTRY).is_valid(value)


def key_orders(schema: Any) -> list[list[str]]:
    """The key orders an object may be written in, as constrain emits them: every `properties` list;
    the merged list of a schema whose `$ref` (target first), `allOf` branches, or `anyOf`/`oneOf`
    branch add properties (its own first, then each branch's new names); and the keys of object
    values of `const`/`enum`, written as given."""
    out: list[list[str]] = []

    def resolve(ref: Any) -> Any:
        node = schema
        if not isinstance(ref, str) or not ref.startswith("#"):
            return None
        for part in filter(None, ref[1:].split("/")):
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return None
        return node

    def merged(node: Any, depth: int = 0) -> list[str]:
        if not isinstance(node, dict) or depth > 8:
            return []
        names = merged(resolve(node.get("$ref")), depth + 1) if "$ref" in node else []
        names += list(node["properties"]) if isinstance(node.get("properties"), dict) else []
        branches = node.get("allOf")
        for branch in branches if isinstance(branches, list) else []:
            names += merged(branch, depth + 1)
        return list(dict.fromkeys(names))

    def values(value: Any) -> None:
        if isinstance(value, dict):
            out.append(list(value))
        for v in value.values() if isinstance(value, dict) else value if isinstance(value, list) else ():
            values(v)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            own = merged(node)
            out.append(own)
            for key in ("anyOf", "oneOf"):
                for branch in node[key] if isinstance(node.get(key), list) else []:
                    out.append(list(dict.fromkeys(own + merged(branch))))
            if "const" in node:
                values(node["const"])
            if isinstance(node.get("enum"), list):
                values(node["enum"])
        for v in node.values() if isinstance(node, dict) else node if isinstance(node, list) else ():
            walk(v)

    walk(schema)
    return [names for names in out if names]


def in_schema_order(data: Any, lists: list[list[str]]) -> bool:
    """Every object's keys follow one of the `key_orders` that declares the most of them, undeclared
    keys last (a heuristic: the instance is not matched to its subschema)."""
    if isinstance(data, list):
        return all(in_schema_order(v, lists) for v in data)
    if not isinstance(data, dict):
        return True
    keys = list(data)
    best = max((len(set(keys) & set(names)) for names in lists), default=0)
    ok = best == 0
    for names in lists:
        if len(set(keys) & set(names)) < best:
            continue
        declared = [k for k in keys if k in names]
        if declared and keys[:len(declared)] == declared and \
                [names.index(k) for k in declared] == sorted(names.index(k) for k in declared):
            ok = True
            break
    return ok and all(in_schema_order(v, lists) for v in data.values())


@dataclass
class Prepared:
    """A case's instances ready to teacher-force, and those set aside (never scored), with why."""
    case: Case
    checked: list[dict] = field(default_factory=list)   # {"index", "valid", "ids"}
    skipped_order: list[int] = field(default_factory=list)  # valid, keys not in schema order
    disagreements: list[dict] = field(default_factory=list)  # the label is not jsonschema's verdict
    unchecked: list[dict] = field(default_factory=list)  # jsonschema raised: no verdict


def prepare(case: Case, tokenizer: Any) -> Prepared:
    prepared, lists = Prepared(case), key_orders(case.schema)
    for index, test in enumerate(case.tests):
        label = bool(test["valid"])
        try:
            valid = is_valid(case.schema, test["data"])
        except Exception as e:  # noqa: BLE001 (an unresolvable $ref, a regex Python cannot compile...)
            prepared.unchecked.append({"index": index, "error": f"{type(e).__name__}: {str(e)[:200]}"})
            continue
        if valid != label:
            prepared.disagreements.append({"index": index, "label": label, "jsonschema": valid})
            continue
        if valid and not in_schema_order(test["data"], lists):
            prepared.skipped_order.append(index)
            continue
        ids = text_ids(tokenizer, json.dumps(test["data"])) + [tokenizer.eos_token_id]
        prepared.checked.append({"index": index, "valid": valid, "ids": ids})
    return prepared


# ---------------------------------------------------------------- one schema, one engine

def _timer_cost_ns(clock) -> int:
    """What reading `clock` twice costs by itself: subtracted from every interval measured with it."""
    return int(np.median([-clock() + clock() for _ in range(1001)]))


def run_case(engine: Engine, prepared: Prepared) -> dict:
    """Compile, then teacher-force every checked instance: the worker's whole job. Times are the
    process's CPU time (the machine is shared: wall time would bill others' load and preemptions to
    the engine); `mask_us[k]` and `advance_us[k]` are the k-th token's (no advance for EOS or a refused
    token: 0)."""
    clock = time.process_time_ns
    zero = _timer_cost_ns(clock)
    start, wall = clock(), time.perf_counter()
    try:
        compiled = engine.compile(prepared.case.schema)
    except Unsupported as e:
        return {"status": "unsupported", "reason": str(e)}
    compile_ns = clock() - start
    engine.cursor(compiled).fill()
    result = {"status": "compiled", "compile_s": compile_ns / 1e9, "ttfm_s": (clock() - start) / 1e9,
              "ttfm_wall_s": time.perf_counter() - wall, "instances": [], "mask_us": [], "advance_us": []}
    mask_us, advance_us = result["mask_us"], result["advance_us"]
    for inst in prepared.checked:
        cursor, ids, rejected_at = engine.cursor(compiled), inst["ids"], None
        for pos, tid in enumerate(ids):
            t0 = clock()
            cursor.fill()
            t1 = clock()
            ok, t2, t3 = cursor.allowed(tid), 0, zero
            if ok and pos < len(ids) - 1:  # the last token is EOS: allowed means the output may end
                t2 = clock()
                ok = cursor.consume(tid)
                t3 = clock()
            mask_us.append(max(t1 - t0 - zero, 0) / 1e3)
            advance_us.append(max(t3 - t2 - zero, 0) / 1e3)
            if not ok:
                rejected_at = pos
                break
        accepted = rejected_at is None
        result["instances"].append({"index": inst["index"], "valid": inst["valid"], "tokens": len(ids),
                                    "rejected_at": rejected_at, "pass": accepted == inst["valid"]})
    return result


def guarded(engine: Engine, prepared: Prepared) -> dict:
    """`run_case`, an engine's exception recorded as a crash instead of raised."""
    try:
        return run_case(engine, prepared)
    except MemoryError:
        return {"status": "crash", "reason": "MemoryError (memory cap)"}
    except Exception as e:  # noqa: BLE001 (a bug in an engine: recorded, the run goes on)
        where = traceback.extract_tb(e.__traceback__)[-1]
        return {"status": "crash", "reason": f"{type(e).__name__}: {str(e)[:200]} "
                                             f"({Path(where.filename).name}:{where.lineno})"}


def _serve(engine: Engine, memory_bytes: int, conn) -> None:
    """A worker's loop: run each case it receives, until it receives None."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    while (prepared := conn.recv()) is not None:
        conn.send(guarded(engine, prepared))


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a live process has used so far, all its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Worker:
    """A forked process that runs one engine's cases (`guarded`) with its address space capped; a case
    is stopped after `timeout` s of the worker's CPU time (so a loaded machine does not turn into
    timeouts) or, if it hangs idle, of wall time x 4, and the worker with it. (Not RLIMIT_CPU: under it
    this kernel only counts CPU time in whole ticks, too coarse to time a mask.)"""

    def __init__(self, engine: Engine, memory_bytes: int):
        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(engine, memory_bytes, child), daemon=True)
        gc.freeze()  # see the module docstring; the parent's collector gets them back right after
        self._proc.start()
        gc.unfreeze()
        child.close()

    def run(self, prepared: Prepared, timeout: float) -> dict:
        """The case's result; a timeout or a crash also stops the worker (`alive` turns False)."""
        spent, deadline = _cpu_seconds(self._proc.pid), time.monotonic() + 4 * timeout
        try:
            self._conn.send(prepared)
            while not self._conn.poll(0.1):
                if _cpu_seconds(self._proc.pid) - spent > timeout:
                    return self._stop({"status": "timeout", "reason": f"over {timeout:g} s of CPU time"})
                if time.monotonic() > deadline:
                    return self._stop({"status": "timeout", "reason": f"over {4 * timeout:g} s of wall time"})
            result = self._conn.recv()
        except (EOFError, OSError):
            self._proc.join()
            code = self._proc.exitcode
            why = f"killed by {signal.Signals(-code).name}" if code and code < 0 else f"exit code {code}"
            return self._stop({"status": "crash", "reason": f"worker died ({why})"})
        # an engine that raised may have left its caches half updated: the next case gets a new worker
        return self._stop(result) if result["status"] == "crash" else result

    @property
    def alive(self) -> bool:
        return not self._conn.closed

    def _stop(self, result: dict | None = None) -> dict | None:
        if self._proc.is_alive():
            self._proc.kill()
        self._proc.join()
        self._conn.close()
        return result

    def close(self) -> None:
        if self.alive:
            self._stop()


def run(cases: list[Case], engines: list[Engine], tokenizer: Any, *, timeout: float = 30.0,
        memory_gb: float = 8.0, workers: str = "fork", progress: bool = False) -> dict:
    """Every case through every engine: the report that `tables` and `plot` read. `workers`: "fork",
    a new worker per case and engine (every case starts cold, but for what the parent set up);
    "persistent", one worker per engine for every case, as MaskBench's own runner has it (what an
    engine caches across schemas carries over; a worker that timed out or crashed is replaced);
    "none", each case in this process (no limits: for cases known to be quick, as in tests)."""
    from tqdm import tqdm

    memory_bytes = int(memory_gb * 2 ** 30)
    report: dict = {"cases": [], "results": []}
    pool: dict[str, Worker] = {}
    with tqdm(total=len(cases) * len(engines), disable=not progress, unit="run", smoothing=0.02) as bar:
        for case in cases:
            bar.set_postfix_str(case.group, refresh=False)
            prepared = prepare(case, tokenizer)
            report["cases"].append({"case": case.id, "group": case.group, "instances": len(case.tests),
                                    "skipped_order": prepared.skipped_order,
                                    "disagreements": prepared.disagreements, "unchecked": prepared.unchecked})
            for engine in engines:
                result = {"case": case.id, "group": case.group, "engine": engine.name}
                if workers == "none":
                    result.update(guarded(engine, prepared))
                else:
                    worker = pool.get(engine.name)
                    if worker is None or not worker.alive:
                        worker = pool[engine.name] = Worker(engine, memory_bytes)
                    result.update(worker.run(prepared, timeout))
                    if workers == "fork":
                        worker.close()
                report["results"].append(result)
                bar.update()
    for worker in pool.values():
        worker.close()
    return report


# ---------------------------------------------------------------- summaries

STATUSES = ("compiled", "unsupported", "timeout", "crash")


def schema_passes(result: dict) -> bool:
    return result["status"] == "compiled" and all(i["pass"] for i in result["instances"])


def counts(results: list[dict]) -> Counter:
    """Schema outcomes and instance errors of some results."""
    out = Counter(schemas=len(results))
    for r in results:
        out[r["status"]] += 1
        out["passing"] += schema_passes(r)
        for inst in r.get("instances", ()):
            out["instances"] += 1
            if not inst["pass"]:
                out["validation errors" if inst["valid"] else "invalidation errors"] += 1
    return out


def token_times(results: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(mask, mask + advance) per token, in microseconds, over the results."""
    mask = np.array([t for r in results for t in r.get("mask_us", ())])
    advance = np.array([t for r in results for t in r.get("advance_us", ())])
    return mask, mask + advance


def percentiles(values: np.ndarray) -> list[float]:
    if not len(values):
        return [float("nan")] * (len(PERCENTILES) + 1)
    return [*np.percentile(values, PERCENTILES), float(np.max(values))]


def _table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "-" if np.isnan(v) else f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
        return str(v)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows])


def _reason(text: str) -> str:
    """A refusal reason without the JSON pointer or quoted values, so equal causes group together."""
    return text.split(" at #")[0].split(": '")[0].split(' "')[0][:70]


def tables(report: dict) -> str:
    """The markdown report: outcomes, TTFM, per-token times, ratios, per group, errors."""
    by_engine: dict[str, list[dict]] = defaultdict(list)
    for r in report["results"]:
        by_engine[r["engine"]].append(r)
    engines = list(by_engine)
    cases = report["cases"]
    out = [(f"{len(cases)} schemas, {sum(c['instances'] for c in cases)} instances; "
            f"{sum(len(c['skipped_order']) for c in cases)} valid instances skipped (property order not the "
            f"schema's); {sum(len(c['disagreements']) for c in cases)} labels jsonschema disagrees with and "
            f"{sum(len(c['unchecked']) for c in cases)} instances it could not check (not scored)."), ""]
    stat = {e: counts(rs) for e, rs in by_engine.items()}
    ttfm = {e: [r["ttfm_s"] * 1e3 for r in rs if r["status"] == "compiled"] for e, rs in by_engine.items()}
    out.append(_table(["engine", "schemas", "passing", "compiled", "unsupported", "timeout", "crash", "instances",
                       "validation errors", "invalidation errors", "TTFM p50 ms", "TTFM p90 ms", "TTFM max ms"],
                      [[e, stat[e]["schemas"], stat[e]["passing"], *(stat[e][s] for s in STATUSES),
                        stat[e]["instances"], stat[e]["validation errors"], stat[e]["invalidation errors"],
                        *(np.percentile(ttfm[e], [50, 90]).tolist() if ttfm[e] else [float("nan")] * 2),
                        max(ttfm[e], default=float("nan"))] for e in engines]))
    names = [f"p{p:g}" for p in PERCENTILES] + ["max"]
    times = {e: token_times(rs) for e, rs in by_engine.items()}
    for title, k in (("mask", 0), ("mask + advance", 1)):
        out += ["", f"Per-token time, {title} (us):", ""]
        out.append(_table(["engine", "tokens", *names], [[e, len(times[e][k]), *percentiles(times[e][k])]
                                                        for e in engines]))
    if "constrain" in by_engine and len(engines) > 1:
        out += ["", "constrain / peer, on the schemas both compiled (TTFM and per-token mask + advance):", ""]
        rows = []
        ours = {r["case"]: r for r in by_engine["constrain"] if r["status"] == "compiled"}
        for peer in engines[1:] if engines[0] == "constrain" else [e for e in engines if e != "constrain"]:
            theirs = {r["case"]: r for r in by_engine[peer] if r["status"] == "compiled"}
            common = [c for c in ours if c in theirs]
            a = [ours[c] for c in common]
            b = [theirs[c] for c in common]
            ta, tb = [r["ttfm_s"] for r in a], [r["ttfm_s"] for r in b]
            ratio_t = (np.percentile(ta, [50, 90]) / np.percentile(tb, [50, 90])).tolist() if common else [float("nan")] * 2
            pa, pb = percentiles(token_times(a)[1]), percentiles(token_times(b)[1])
            rows.append([peer, len(common), *ratio_t, *(x / y if y else float("nan") for x, y in zip(pa, pb))])
        out.append(_table(["peer", "schemas", "TTFM p50", "TTFM p90", *names], rows))
    groups = sorted({r["group"] for r in report["results"]})
    out += ["", "Per group:", ""]
    rows = []
    for g in groups:
        for e in engines:
            c = counts([r for r in by_engine[e] if r["group"] == g])
            rows.append([g, e, c["schemas"], c["passing"], *(c[s] for s in STATUSES), c["instances"],
                         c["validation errors"], c["invalidation errors"]])
    out.append(_table(["group", "engine", "schemas", "passing", *STATUSES, "instances", "validation errors",
                       "invalidation errors"], rows))
    for e in engines:
        reasons = Counter(_reason(r["reason"]) for r in by_engine[e] if r["status"] != "compiled")
        errors = [(r["case"], i) for r in by_engine[e] for i in r.get("instances", ()) if not i["pass"]]
        out += ["", f"{e}: not compiled, by reason (top 10):", ""]
        out += [f"- {n} x {why}" for why, n in reasons.most_common(10)] or ["- none"]
        out += ["", f"{e}: instance errors (first 20 of {len(errors)}):", ""]
        out += [f"- {'valid rejected' if i['valid'] else 'invalid accepted'}: {case} instance {i['index']}"
                + (f", at token {i['rejected_at']}/{i['tokens']}" if i["rejected_at"] is not None else "")
                for case, i in errors[:20]] or ["- none"]
    disagreements = [(c["case"], d) for c in cases for d in c["disagreements"]]
    out += ["", f"Labels jsonschema disagrees with (first 20 of {len(disagreements)}):", ""]
    out += [f"- {case} instance {d['index']}: label {d['label']}, jsonschema {d['jsonschema']}"
            for case, d in disagreements[:20]] or ["- none"]
    return "\n".join(out)


def plot(report: dict, path: Path) -> None:
    """Per-token time (mask + advance) and TTFM, as one cumulative distribution per engine."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    engines = list(dict.fromkeys(r["engine"] for r in report["results"]))
    for e in engines:
        results = [r for r in report["results"] if r["engine"] == e]
        for ax, values in ((left, token_times(results)[1]),
                           (right, np.array([r["ttfm_s"] * 1e3 for r in results if r["status"] == "compiled"]))):
            if len(values):
                values = np.sort(np.maximum(values, 1e-3))
                ax.step(values, np.arange(1, len(values) + 1) / len(values), where="post", label=e)
    for ax, what in ((left, "per-token time, mask + advance (us)"), (right, "time to first mask (ms)")):
        ax.set_xscale("log")
        ax.set_xlabel(what)
        ax.set_ylabel("fraction at most x")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("MaskBench: CPU time, one thread, compiled schemas only")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------- command line

def single_threaded() -> None:
    """One thread for torch, and for the peers' Rust thread pools (read when they first start)."""
    import torch

    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # tokenizing before forks
    torch.set_num_threads(1)


_WORKERS = {"fork": "a new worker per schema and engine", "persistent": "one worker per engine"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=["bench", "test-suite", "folder"], default="bench")
    parser.add_argument("--path", type=Path, help="the suite's folder (default: the shared data copy)")
    parser.add_argument("--engines", default="constrain,xgrammar,llguidance,outlines-core")
    parser.add_argument("--limit", type=int, help="this many schemas, stratified by dataset / file")
    parser.add_argument("--timeout", type=float, default=30.0, help="CPU seconds per schema and engine")
    parser.add_argument("--memory-gb", type=float, default=8.0, help="address-space cap per worker")
    parser.add_argument("--workers", choices=list(_WORKERS), default="fork",
                        help="a new worker per schema and engine (default), or one per engine (MaskBench's runner)")
    parser.add_argument("--vocab", help="smollm2 (default), qwen (151,644 tokens, from dashscope's tiktoken "
                        "ranks), or a Hugging Face tokenizer folder")
    parser.add_argument("--out", type=Path, help="output prefix (default: benchmarks/results/masks-SUITE)")
    parser.add_argument("--replot", type=Path, metavar="JSON", help="only redo the tables and plot of a saved run")
    args = parser.parse_args()
    out = args.out or ROOT / "benchmarks" / "results" / f"masks-{args.suite}"
    if args.replot:
        report = json.loads(args.replot.read_text())
    else:
        report = measure(args, parser)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(report))
    settings = report["settings"]
    text = (f"MaskBench, suite {settings['suite']}, {settings['vocab']} vocabulary, "
            f"{', '.join(f'{n} {v}' for n, v in settings['engines'].items())}; one thread, "
            f"{settings['timeout_s']:g} s of CPU and {settings['memory_gb']:g} GiB per schema and engine, "
            f"{_WORKERS[settings.get('workers', 'fork')]}; "
            f"{settings['wall_s']:.0f} s in all\n\n" + tables(report))
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(text + "\n")
    plot(report, out.with_suffix(".png"))
    print(f"\nwrote {out}.md and .png" + ("" if args.replot else " and .json"))


def measure(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict:
    single_threaded()
    if args.suite == "folder" and args.path is None:
        parser.error("--suite folder needs --path")
    loaders = {"bench": lambda: bench_cases(args.path or BENCH), "folder": lambda: folder_cases(args.path),
               "test-suite": lambda: suite_cases(args.path or TEST_SUITE)}
    cases = stratified(loaders[args.suite](), args.limit)
    tokenizer = load_tokenizer(args.vocab)
    engines, missing = available(args.engines.split(","), tokenizer)
    for name, why in missing.items():
        print(f"{name}: {why}; skipped")
    started = time.time()
    report = run(cases, engines, tokenizer, timeout=args.timeout, memory_gb=args.memory_gb,
                 workers=args.workers, progress=True)
    report["settings"] = {"suite": args.suite, "limit": args.limit, "timeout_s": args.timeout, "workers": args.workers,
                          "memory_gb": args.memory_gb, "vocab": _vocab_name(args.vocab, tokenizer),
                          "wall_s": round(time.time() - started, 1),
                          "engines": {e.name: _version(e.name) for e in engines}}
    return report


def _vocab_name(name: str | None, tokenizer: Any) -> str:
    """The report's vocabulary label, with its size (it drives the per-token cost)."""
    label = {None: "SmolLM2-135M-Instruct", "smollm2": "SmolLM2-135M-Instruct", "qwen": "Qwen"}.get(name, name)
    return f"{label} ({len(tokenizer):,} tokens)"


def _version(engine: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version({"outlines-core": "outlines_core"}.get(engine, engine))
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    main()
