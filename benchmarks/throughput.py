"""Tokens per second of the default model, free and constrained, with and without fast-forward.

    python -m benchmarks.throughput [--repeats R] [--max-new-tokens N] [--batch B] [--threads T]

For each case (a JSON schema and a prompt) and each of R rounds, three greedy generations run back to
back through `sample_batch`, so that load from other processes hits them alike:

- free: no constraint (`model.generate`), max_new_tokens cut to the constrained output's length, so that
  both amortise the prompt's forward pass over as many tokens (free text from a small model rambles on);
- constrained: the schema's matcher (with budget) in `model.generate`'s logits processor, one token per
  forward pass (`fast_forward=False`);
- fast-forward: the same matcher in `constrain.hf.decode`, forced tokens appended without sampling.

A warm-up round per case is not timed (it fills the masks' caches, which both constrained modes share).
Greedy rounds repeat the same tokens, so each mode's time for a case is its fastest round: on a shared
machine the others only add noise. tokens/s counts every generated token, EOS included, over that wall
time (compiling the schema excluded). torch runs T intra-op threads (default 1: on a loaded machine a
thread pool spends more on waking than on the small per-token tensors). Printed as a markdown table,
with each constrained rate as a ratio to free.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from constrain.generate import _grammar, prompt_ids, vocabulary_for
from constrain.hf.model import load_default_model
from constrain.hf.sample import Sampling, sample_batch

BENCH = Path(__file__).resolve().parents[2] / "shared" / "data" / "jsonschemabench-dev" / "Glaiveai2K"

PERSON = {"type": "object", "additionalProperties": False, "required": ["name", "age", "email", "city"],
          "properties": {"name": {"type": "string", "maxLength": 20}, "age": {"type": "integer"},
                         "email": {"type": "string", "maxLength": 30}, "city": {"type": "string", "maxLength": 20}}}
ORDER = {"type": "object", "additionalProperties": False, "required": ["order_id", "items", "paid"],
         "properties": {"order_id": {"type": "integer"}, "paid": {"type": "boolean"},
                        "items": {"type": "array", "minItems": 1, "maxItems": 3, "items": {
                            "type": "object", "additionalProperties": False, "required": ["product", "quantity"],
                            "properties": {"product": {"type": "string", "maxLength": 20},
                                           "quantity": {"type": "integer"}}}}}}
CASES = [
    ("person", PERSON, "Describe a fictional person as JSON with name, age, email and city."),
    ("order", ORDER, "Write an example shop order as JSON."),
    ("hotel", "book_hotel_e2c3dd06.json", "Give an example hotel booking request as JSON."),
    ("age-diff", "calculate_age_difference_69307974.json", "Give example arguments as JSON."),
]
MODES = ("free", "constrained", "fast-forward")


def run(model, tokenizer, vocab, schema, prompt: str, mode: str, *, max_new_tokens: int, batch: int) -> tuple[int, int, float]:
    """(tokens, forced tokens, seconds) of one greedy batch in `mode`."""
    encoded = [prompt_ids(tokenizer, prompt)] * batch
    matchers = None
    if mode != "free":
        grammar = _grammar(vocab, ("schema", schema))
        matchers = [grammar.matcher(budget=max_new_tokens) for _ in encoded]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else vocab.eos_token_id
    start = time.perf_counter()
    samples = sample_batch(model, vocab, encoded, Sampling(), max_new_tokens=max_new_tokens, pad_token_id=pad,
                           matchers=matchers, fast_forward=mode == "fast-forward")
    seconds = time.perf_counter() - start
    return sum(len(s.token_ids) for s in samples), sum(s.forced for s in samples), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--batch", type=int, default=1, help="rows per call (copies of the prompt)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, tokenizer = load_default_model()
    vocab = vocabulary_for(model, tokenizer)
    totals = {mode: [0, 0, 0.0] for mode in MODES}
    lines = ["| case | free tok/s | constrained tok/s (ratio) | fast-forward tok/s (ratio) | forced |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for name, schema, prompt in CASES:
        if isinstance(schema, str):
            schema = json.loads((BENCH / schema).read_text())
        for mode in MODES[1:]:  # warm-up: compile the schema, fill the mask caches
            tokens, _, _ = run(model, tokenizer, vocab, schema, prompt, mode, max_new_tokens=args.max_new_tokens,
                               batch=args.batch)
        limits = {"free": -(-tokens // args.batch), "constrained": args.max_new_tokens,
                  "fast-forward": args.max_new_tokens}
        rounds = {mode: [] for mode in MODES}
        for _ in range(args.repeats):
            for mode in MODES:
                rounds[mode].append(run(model, tokenizer, vocab, schema, prompt, mode, max_new_tokens=limits[mode],
                                        batch=args.batch))
        best = {mode: min(results, key=lambda result: result[2]) for mode, results in rounds.items()}
        for mode, result in best.items():
            totals[mode] = [a + b for a, b in zip(totals[mode], result)]
        lines.append(_line(name, best))
    lines.append(_line("**all**", totals))
    print(f"batch {args.batch}, max_new_tokens {args.max_new_tokens}, best of {args.repeats} rounds, greedy, "
          f"{args.threads} thread(s)\n")
    print("\n".join(lines))


def _line(name: str, sums: dict[str, tuple | list]) -> str:
    rate = {mode: tokens / seconds for mode, (tokens, _, seconds) in sums.items()}
    tokens, forced, _ = sums["fast-forward"]
    return (f"| {name} | {rate['free']:.1f} | {rate['constrained']:.1f} ({rate['constrained'] / rate['free']:.2f}) "
            f"| {rate['fast-forward']:.1f} ({rate['fast-forward'] / rate['free']:.2f}) | {forced / tokens:.0%} |")


if __name__ == "__main__":
    main()
