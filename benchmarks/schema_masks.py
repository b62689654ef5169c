"""JSON Schema masks over the JSONSchemaBench developer sample: coverage, exactness and mask time.

    python benchmarks/schema_masks.py [--schemas 300] [--offset 0]

For each schema with instances (INSTANCES.jsonl): compile with `compile_json_schema` (SmolLM2
vocabulary); an `UnsupportedSchemaError`/`SchemaError` is counted by reason. Every instance is
`json.dumps`-ed (default separators) and teacher-forced token by token (mask, then advance, then
EOS), every mask timed. Validity is `jsonschema` with the 2020-12 format checker. Prints compile
time, per-token mask p50/p99/max, and the MaskBench counts: validation errors (a valid instance
rejected; valid instances not in schema property order are skipped) and invalidation errors (an
invalid instance accepted).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT.parent / "shared" / "data" / "jsonschemabench-dev"
sys.path.insert(0, str(ROOT / "tests"))

from constrain.hf.model import load_default_tokenizer  # noqa: E402
from constrain.schema import SchemaError, UnsupportedSchemaError, compile_json_schema  # noqa: E402
from constrain.vocab import Vocabulary  # noqa: E402
from test_schema import _property_lists, in_schema_order, is_valid  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--schemas", type=int, default=300)
    ap.add_argument("--offset", type=int, default=0)
    args = ap.parse_args()
    tokenizer = load_default_tokenizer()
    vocab = Vocabulary.from_tokenizer(tokenizer)
    lines = [x for x in (BENCH / "INSTANCES.jsonl").read_text().split("\n") if x]
    lines = lines[args.offset:args.offset + args.schemas]
    counts, reasons = Counter(), Counter()
    compile_times, mask_times = [], []
    for line in lines:
        entry = json.loads(line)
        schema = json.loads((BENCH / entry["file"]).read_text())
        start = time.perf_counter()
        try:
            grammar = compile_json_schema(schema, vocab)
        except UnsupportedSchemaError as e:
            counts["unsupported"] += 1
            reasons[e.reason.split(":")[0][:60]] += 1
            continue
        except SchemaError as e:
            counts["unsatisfiable"] += 1
            reasons["unsatisfiable: " + e.reason[:50]] += 1
            continue
        compile_times.append(time.perf_counter() - start)
        counts["compiled"] += 1
        lists = _property_lists(schema, [])
        for test in entry["tests"]:
            valid = is_valid(schema, test["data"])
            if valid and not in_schema_order(test["data"], lists):
                counts["skipped (property order)"] += 1
                continue
            m = grammar.matcher()
            ok = True
            for tid in tokenizer.encode(json.dumps(test["data"]), add_special_tokens=False) + [vocab.eos_token_id]:
                t = time.perf_counter()
                mask = m.mask()
                mask_times.append(time.perf_counter() - t)
                if not mask[tid]:
                    ok = False
                    break
                m.advance(tid)
            if valid and not ok:
                counts["validation errors"] += 1
                print("valid rejected:", entry["file"])
            elif ok and not valid:
                counts["invalidation errors"] += 1
                print("invalid accepted:", entry["file"])
            else:
                counts["valid accepted" if valid else "invalid rejected"] += 1
    ms = np.array(mask_times) * 1000
    print(f"{len(lines)} schemas: {dict(counts)}")
    if compile_times:
        print(f"compile: mean {np.mean(compile_times):.2f}s, max {np.max(compile_times):.2f}s")
    if ms.size:
        print(f"mask per token ({ms.size} masks): p50 {np.percentile(ms, 50):.3f} ms, "
              f"p99 {np.percentile(ms, 99):.2f} ms, max {ms.max():.1f} ms")
    print("unsupported, by reason:")
    for reason, n in reasons.most_common():
        print(f"  {n:4d}  {reason}")


if __name__ == "__main__":
    main()
