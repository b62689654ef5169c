"""Per-token mask time under `grammars/json.lark`: constrain, and llguidance's Lark engine when it is
installed (`pip install .[bench]`), in the same run, on the same SmolLM2 vocabulary and instances.

    python benchmarks/lark_masks.py [--instances 300] [--grammar grammars/json.lark]

Each valid instance of the JSONSchemaBench developer sample (../shared/data/jsonschemabench-dev) is
`json.dumps`-ed and teacher-forced token by token (its canonical tokenization, then EOS) through both
engines; every mask computation is timed. Both engines must accept every token; a refusal is
reported, not hidden. Prints p50/p99/max per-token time, compile time, and the ratio constrain/peer.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from constrain import Vocabulary, compile_lark, compile_regex
from constrain.hf.model import load_default_tokenizer
from constrain.index.trie import trie_of

from benchmarks.vocabs import text_ids

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "jsonschemabench-dev" / "INSTANCES.jsonl"


def instances(limit: int) -> list[str]:
    texts = []
    for line in DATA.read_text().splitlines():
        for test in json.loads(line)["tests"]:
            if test["valid"]:
                texts.append(json.dumps(test["data"], ensure_ascii=False))
                break
        if len(texts) == limit:
            break
    return texts


class ConstrainEngine:
    name = "constrain"

    def __init__(self, grammar_text: str, tokenizer):
        self.vocab = Vocabulary.from_tokenizer(tokenizer)
        start = time.perf_counter()
        trie_of(self.vocab)  # once per vocabulary and process, like llguidance's tokenizer setup
        compile_regex("a", self.vocab)  # once per process: loads the compiled trie-walk kernel
        self.setup_s = time.perf_counter() - start
        start = time.perf_counter()
        self.grammar = compile_lark(grammar_text, self.vocab)
        self.compile_s = time.perf_counter() - start

    def run(self, ids: list[int]) -> tuple[list[float], bool]:
        matcher, times = self.grammar.matcher(), []
        for tid in ids:
            start = time.perf_counter()
            mask = matcher.mask()
            times.append(time.perf_counter() - start)
            if not mask[tid] or not matcher.advance(tid):
                return times, False
        return times, True


class LLGuidanceEngine:
    name = "llguidance"

    def __init__(self, grammar_text: str, tokenizer):
        import llguidance
        import llguidance.hf
        import llguidance.torch

        self.ll = llguidance
        self.tokenizer = llguidance.hf.from_tokenizer(tokenizer)
        start = time.perf_counter()
        self.grammar = llguidance.LLMatcher.grammar_from_lark(grammar_text)
        llguidance.LLMatcher(self.tokenizer, self.grammar)
        self.compile_s = time.perf_counter() - start
        self.bitmask = llguidance.torch.allocate_token_bitmask(1, self.tokenizer.vocab_size)

    def run(self, ids: list[int]) -> tuple[list[float], bool]:
        matcher = self.ll.LLMatcher(self.tokenizer, self.grammar)
        fill = self.ll.torch.fill_next_token_bitmask
        times = []
        for tid in ids:
            start = time.perf_counter()
            fill(matcher, self.bitmask, 0)
            times.append(time.perf_counter() - start)
            word = int(self.bitmask[0, tid // 32])
            if not (word >> (tid % 32)) & 1 or not matcher.consume_token(tid):
                return times, False
        return times, True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--grammar", default=str(ROOT / "grammars" / "json.lark"))
    args = parser.parse_args()

    tokenizer = load_default_tokenizer()
    text = Path(args.grammar).read_text()
    engines = [ConstrainEngine(text, tokenizer)]
    try:
        engines.append(LLGuidanceEngine(text, tokenizer))
    except ImportError:
        print("llguidance is not installed (pip install .[bench]); timing constrain alone")
    docs = instances(args.instances)
    eos = tokenizer.eos_token_id
    results = {e.name: {"times": [], "refused": 0} for e in engines}
    for doc in docs:
        ids = text_ids(tokenizer, doc) + [eos]
        for engine in engines:
            times, ok = engine.run(ids)
            results[engine.name]["times"] += times
            results[engine.name]["refused"] += not ok

    print(f"constrain vocabulary trie and kernel load: {engines[0].setup_s * 1e3:.0f} ms, once per process (not in compile)")
    print(f"grammar {Path(args.grammar).name}, {len(docs)} instances, SmolLM2 vocabulary ({tokenizer.vocab_size} + "
          f"added tokens), one thread\n")
    print("| engine | compile ms | masks | refused docs | p50 us | p99 us | max us |")
    print("|---|---|---|---|---|---|---|")
    summary = {}
    for engine in engines:
        us = np.array(results[engine.name]["times"]) * 1e6
        summary[engine.name] = (np.percentile(us, 50), np.percentile(us, 99))
        print(f"| {engine.name} | {engine.compile_s * 1e3:.1f} | {len(us)} | {results[engine.name]['refused']} | "
              f"{summary[engine.name][0]:.0f} | {summary[engine.name][1]:.0f} | {us.max():.0f} |")
    if "llguidance" in summary:
        ours, peer = summary["constrain"], summary["llguidance"]
        print(f"\nconstrain / llguidance: p50 {ours[0] / peer[0]:.1f}x, p99 {ours[1] / peer[1]:.1f}x")


if __name__ == "__main__":
    main()
