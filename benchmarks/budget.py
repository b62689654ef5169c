"""What a token budget costs per mask: the same outputs replayed without a budget, with a roomy one
(far from the limit) and with the tight one they were generated under (near it), plus the time to
find the fewest tokens of a whole output (`min_new_tokens`).

    python benchmarks/budget.py [--extra 10] [--outputs 6] [SCHEMA.json ...]

Outputs come from a random adversary that never ends while it may go on, under
`min_new_tokens + extra` tokens; every one is checked with jsonschema. Masks are timed on the second
replay (the first warms the caches every mode shares).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jsonschema
import numpy as np

from constrain import compile_json_schema, min_new_tokens
from constrain.hf.model import load_default_tokenizer
from constrain.vocab import Vocabulary

SCHEMAS = {
    "nested": {"type": "object", "required": ["id", "owner"], "properties": {
        "id": {"type": "integer"},
        "owner": {"type": "object", "required": ["name", "address"], "properties": {
            "name": {"type": "string"},
            "address": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}}}}},
    "items": {"type": "array", "minItems": 3, "items": {
        "type": "object", "required": ["x"], "properties": {"x": {"type": "number"}, "tags": {"type": "array"}}}},
}


def generate(grammar, budget: int, seed: int) -> list[int]:
    matcher, rng, ids = grammar.matcher(budget=budget), np.random.default_rng(seed), []
    eos = grammar.vocab.eos_token_id
    while not matcher.is_terminated():
        allowed = np.flatnonzero(matcher.mask().numpy())
        others = allowed[allowed != eos]
        ids.append(int(rng.choice(others)) if others.size else eos)
        matcher.advance(ids[-1])
    return ids


def replay(grammar, outputs: list[list[int]], budget: int | None) -> list[float]:
    times = []
    for ids in outputs:
        matcher = grammar.matcher(budget=budget)
        for token in ids:
            start = time.perf_counter()
            matcher.mask()
            times.append(time.perf_counter() - start)
            assert matcher.advance(token)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("schemas", nargs="*", type=Path)
    ap.add_argument("--extra", type=int, default=10)
    ap.add_argument("--outputs", type=int, default=6)
    args = ap.parse_args()
    vocab = Vocabulary.from_tokenizer(load_default_tokenizer())
    schemas = {p.name: json.loads(p.read_text()) for p in args.schemas} or SCHEMAS
    print(f"{'schema':<16}{'min':>5}{'min s':>8}  mask p50 / p99 ms: {'none':>12}{'far':>14}{'near':>14}")
    for name, schema in schemas.items():
        grammar = compile_json_schema(schema, vocab)
        start = time.perf_counter()
        least = min_new_tokens(grammar)
        seconds = time.perf_counter() - start
        budget = least + args.extra
        outputs = [generate(grammar, budget, seed) for seed in range(args.outputs)]
        for ids in outputs:
            jsonschema.validate(json.loads(b"".join(vocab.tokens[t] for t in ids[:-1])), schema)
        modes = {"none": None, "far": 100_000, "near": budget}
        for mode in modes.values():
            replay(grammar, outputs, mode)
        cells = []
        for mode in modes.values():
            times = np.array(replay(grammar, outputs, mode)) * 1e3
            cells.append(f"{np.percentile(times, 50):6.2f} /{np.percentile(times, 99):6.1f}")
        print(f"{name:<16}{least:>5}{seconds:>8.2f}  {'':18}" + "".join(f"{c:>14}" for c in cells))


if __name__ == "__main__":
    main()
