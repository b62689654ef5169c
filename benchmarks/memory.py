"""Memory of compiled schemas and live matchers, measured in one long-running process.

    python -m benchmarks.memory [--limit N] [--keep K] [--matchers M]

Like a server, one process compiles the JSONSchemaBench developer sample's schemas one after another
(N of them, stratified by dataset; all by default) and teacher-forces each schema's valid instances
through a matcher, so the lazily built lexer states and masks are paid for too. Reported, as resident
set size (RSS, what the operating system charges the process):

- the process before the first schema (model-free: the vocabulary and its trie) and at its peak, and
  its growth over the run: the caches are bounded, so it must level off (target: under 2 GiB);
- per compiled schema: the RSS growth while K compiled schemas are kept alive, divided by K (shared
  caches that fill on the way are charged to the schemas, so it is an upper bound);
- per live matcher: M matchers of one schema, each advanced through a valid instance, kept alive
  (bytes allocated, traced by `tracemalloc`: freed memory the allocator reuses hides them from RSS).

RSS only grows when the allocator asks the system for more, so each figure is a growth, not a free
list (the peak includes the K schemas kept alive); `unsupported` schemas cost their failed compilation and are counted. Single-threaded.
"""
from __future__ import annotations

import argparse
import gc
import json
import time
import tracemalloc

import psutil

from benchmarks.masks import bench_cases, single_threaded, stratified
from benchmarks.vocabs import load_tokenizer, text_ids
from constrain import ConstrainError, Vocabulary, compile_json_schema

MIB = 2 ** 20


def rss() -> int:
    return psutil.Process().memory_info().rss


def force(grammar, token_ids: list[int]) -> None:
    """Teacher-force `token_ids` through a fresh matcher (masks computed as a sampler would)."""
    matcher = grammar.matcher()
    for t in token_ids:
        matcher.mask()
        if not matcher.advance(t):
            break


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="schemas, stratified by dataset (default: all)")
    parser.add_argument("--keep", type=int, default=100, help="compiled schemas kept alive at once")
    parser.add_argument("--matchers", type=int, default=1000, help="live matchers of one schema")
    args = parser.parse_args()
    single_threaded()
    tokenizer = load_tokenizer(None)
    vocab = Vocabulary.from_tokenizer(tokenizer)
    compile_json_schema({"type": "object"}, vocab)  # the trie and the kernels, once per process
    cases = stratified(bench_cases(), args.limit)
    encoded = [[text_ids(tokenizer, json.dumps(t["data"])) for t in c.tests if t["valid"]]
               for c in cases]

    gc.collect()
    base = peak = rss()
    kept, kept_from, per_schema = [], base, None
    compiled = failed = 0
    start = time.perf_counter()
    for k, (case, instances) in enumerate(zip(cases, encoded)):
        try:
            grammar = compile_json_schema(case.schema, vocab)
            for ids in instances:
                force(grammar, ids)
            compiled += 1
        except ConstrainError:
            grammar = None
            failed += 1
        if len(kept) < args.keep and grammar is not None:
            kept.append(grammar)
            if len(kept) == args.keep:
                per_schema = (rss() - kept_from) / args.keep
        peak = max(peak, rss())
        if (k + 1) % 100 == 0:
            print(f"{k + 1} schemas: RSS {rss() / MIB:.0f} MiB", flush=True)
    kept.clear()
    gc.collect()
    seconds = time.perf_counter() - start

    one = next(((c, ids[0]) for c, ids in zip(cases, encoded) if ids), None)
    grammar = compile_json_schema(one[0].schema, vocab)
    force(grammar, one[1])
    gc.collect()
    tracemalloc.start()
    matchers = []
    for _ in range(args.matchers):
        m = grammar.matcher()
        for t in one[1]:
            m.advance(t)
        matchers.append(m)
    per_matcher = tracemalloc.get_traced_memory()[0] / args.matchers
    tracemalloc.stop()

    print("\n| measure | value |\n|---|---|")
    print(f"| schemas | {len(cases)} ({compiled} compiled, {failed} refused) in {seconds:.0f} s |")
    print(f"| RSS before the first schema | {base / MIB:.0f} MiB |")
    print(f"| RSS peak | {peak / MIB:.0f} MiB (growth {(peak - base) / MIB:.0f} MiB) |")
    if per_schema is not None:
        print(f"| per compiled schema (RSS growth over {args.keep} kept alive) | {per_schema / 1024:.0f} KiB |")
    print(f"| per live matcher ({args.matchers} of {one[0].id}, {len(one[1])} tokens in) | "
          f"{per_matcher / 1024:.1f} KiB |")


if __name__ == "__main__":
    main()
