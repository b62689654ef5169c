"""Compile time and per-token mask time of regex constraints on a real vocabulary.

    python -m benchmarks.regex_masks                 # SmolLM2 (49,152 tokens)
    python -m benchmarks.regex_masks --vocab qwen    # Qwen's tiktoken ranks (151,644 tokens)

For each regex: compile time (parse, determinise, first mask), then random walks through the masks
(each step picks a uniformly random allowed token, ending at EOS or after --max-tokens), timing every
`matcher.mask()` call. The first visit of an automaton state computes its mask; later visits are cache
hits, so the distribution shows both. Prints a table; figures are for this machine only.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

import numpy as np
import torch

from benchmarks.vocabs import NAMES, load_vocab
from constrain import compile_choices, compile_regex
from constrain.index.trie import trie_of

REGEXES = {
    "email": r"[a-z0-9._%+-]{1,20}@[a-z0-9.-]{1,15}\.[a-z]{2,4}",
    "iso-date": r"\d{4}-\d{2}-\d{2}",
    "phone": r"\(\d{3}\) \d{3}-\d{4}",
    "uuid": r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "json-ish": r'\{"name": "[^"\\]{1,20}", "age": (0|[1-9]\d{0,2})\}',
    "free-text": r"[^\n]{1,60}",
    "sql": r"(?i)select [a-z_]+(, [a-z_]+)* from [a-z_]+( where [a-z_]+ = \d+)?;",
}
CHOICES = ["red", "blue", "green"]


def random_walks(grammar, walks: int, max_tokens: int, rng: random.Random) -> list[float]:
    """Seconds per `mask()` call over random walks through the allowed tokens."""
    times = []
    eos = grammar.vocab.eos_token_id
    for _ in range(walks):
        matcher = grammar.matcher()
        for _ in range(max_tokens):
            start = time.perf_counter()
            mask = matcher.mask()
            times.append(time.perf_counter() - start)
            allowed = torch.nonzero(mask).flatten().tolist()
            tid = rng.choice(allowed)
            assert matcher.advance(tid)
            if tid == eos:
                break
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab", choices=NAMES, default="smollm2")
    parser.add_argument("--walks", type=int, default=50)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()

    vocab = load_vocab(args.vocab)
    start = time.perf_counter()
    trie = trie_of(vocab)
    print(f"vocabulary {args.vocab}: {vocab.size} tokens, trie of {trie.num_nodes} nodes built in "
          f"{(time.perf_counter() - start) * 1e3:.0f} ms (once per process)\n")
    print("| constraint | compile ms | DFA states | masks timed | mask p50 us | mask p99 us | mask max us |")
    print("|---|---|---|---|---|---|---|")
    rng = random.Random(0)
    everything = []
    targets = [(name, lambda p=p: compile_regex(p, vocab)) for name, p in REGEXES.items()]
    targets.append(("choices", lambda: compile_choices(CHOICES, vocab)))
    for name, build in targets:
        start = time.perf_counter()
        grammar = build()
        compile_ms = (time.perf_counter() - start) * 1e3
        times = random_walks(grammar, args.walks, args.max_tokens, rng)
        everything += times
        us = np.array(times) * 1e6
        print(f"| {name} | {compile_ms:.1f} | {grammar.dfa.num_states} | {len(us)} | {np.percentile(us, 50):.1f} | "
              f"{np.percentile(us, 99):.0f} | {us.max():.0f} |")
    us = np.array(everything) * 1e6
    print(f"\nall masks: n={len(us)}, p50 {statistics.median(us):.1f} us, p99 {np.percentile(us, 99):.0f} us")


if __name__ == "__main__":
    main()
