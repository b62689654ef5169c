"""Exact-match rate and speed of `constrain.repair_json` on the repair corpus, and of `json_repair.loads`
on the same corpus in the same run when that package is installed (`pip install json-repair`; a
benchmark-only extra, never imported by the package or the tests).

    python benchmarks/repair.py [--repeat 5] [--by-category]

A case matches when the value is equal with types compared strictly (1, 1.0 and True differ), or, for
a case whose expected outcome is a failure, when the call raised. Returning `""` or `None` for
"nothing to recover" is counted apart (`soft failures`), since it is not a failure a caller can tell
from a value. Schema cases pass the schema to both libraries. Speed is whole-corpus passes, best of
`--repeat`, reported as cases per second on this machine.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "repair_corpus.jsonl"
if importlib.util.find_spec("constrain") is None:      # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

from constrain.repair import json_equal, repair_json  # noqa: E402  (after the path fix above)


def load_corpus() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").split("\n") if line.strip()]


def implementations() -> dict[str, Callable[[str, Any], Any]]:
    impls: dict[str, Callable[[str, Any], Any]] = {"constrain.repair_json": repair_json}
    if importlib.util.find_spec("json_repair") is not None:
        import json_repair

        def jr(text: str, schema: Any) -> Any:
            if schema is None:
                return json_repair.loads(text)
            try:
                return json_repair.loads(text, schema=schema)
            except Exception:                    # schema support needs extras in some versions
                return json_repair.loads(text)

        impls["json_repair.loads"] = jr
    return impls


def score(fn: Callable[[str, Any], Any], corpus: list[dict]) -> dict[str, Any]:
    hits = 0
    soft = 0
    by_cat: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: list[tuple[dict, str]] = []
    for row in corpus:
        schema = row.get("schema")
        try:
            got = fn(row["input"], schema)
            raised = False
        except Exception as exc:                 # noqa: BLE001 - any raise signals "no value"
            got, raised = repr(exc), True
        if row.get("error"):
            ok = raised
            soft += (not raised) and got in ("", None)
        else:
            ok = not raised and json_equal(got, row["expected"])
        hits += ok
        by_cat[row["category"]][0] += ok
        by_cat[row["category"]][1] += 1
        if not ok:
            misses.append((row, got if raised else repr(got)))
    return {"hits": hits, "soft": soft, "by_cat": by_cat, "misses": misses}


def speed(fn: Callable[[str, Any], Any], corpus: list[dict], repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for row in corpus:
            try:
                fn(row["input"], row.get("schema"))
            except Exception:                    # noqa: BLE001
                pass
        best = min(best, time.perf_counter() - t0)
    return len(corpus) / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--by-category", action="store_true", help="also print the per-category table")
    ap.add_argument("--misses", action="store_true", help="list the cases each library gets wrong")
    args = ap.parse_args()
    corpus = load_corpus()
    impls = implementations()
    n = len(corpus)
    n_err = sum(bool(r.get("error")) for r in corpus)
    results = {name: score(fn, corpus) for name, fn in impls.items()}
    rates = {name: speed(fn, corpus, args.repeat) for name, fn in impls.items()}

    print(f"Corpus: {n} cases ({n_err} expected failures), {CORPUS.name}\n")
    print("| library | exact match | rate | expected failures raised | soft failures (`\"\"`/None) | cases/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        raised = sum(1 for row in corpus if row.get("error")) - sum(1 for row, _ in r["misses"] if row.get("error"))
        print(f"| {name} | {r['hits']}/{n} | {100 * r['hits'] / n:.1f}% | {raised}/{n_err} | {r['soft']} "
              f"| {rates[name]:,.0f} |")
    if "json_repair.loads" not in impls:
        print("\n(json_repair is not installed: `pip install json-repair` to compare in the same run)")
    if args.by_category:
        names = list(results)
        cats = sorted({row["category"] for row in corpus})
        print("\n| category | cases | " + " | ".join(names) + " |")
        print("|---|---:|" + "---:|" * len(names))
        for cat in cats:
            total = results[names[0]]["by_cat"][cat][1]
            cells = " | ".join(f"{results[nm]['by_cat'][cat][0]}" for nm in names)
            print(f"| {cat} | {total} | {cells} |")
    if args.misses:
        for name, r in results.items():
            print(f"\n{name} misses ({len(r['misses'])}):")
            for row, got in r["misses"]:
                want = "error" if row.get("error") else repr(row["expected"])
                print(f"  [{row['category']}] {row['input'][:70]!r}\n      want {want[:100]}\n      got  {got[:100]}")


if __name__ == "__main__":
    main()
