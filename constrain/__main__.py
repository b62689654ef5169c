"""`python -m constrain PROMPT (--regex R | --choices A B C | --grammar G)`: the main job on the default
model. G is a .lark file or the name of a shipped grammar (json, sql, arithmetic, csv)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import ConstrainError


SHIPPED = Path(__file__).resolve().parent.parent / "grammars"


def shipped_grammar(name: str) -> Path:
    """A path as given, or `grammars/NAME.lark` from this repository."""
    path = Path(name)
    if path.suffix == ".lark" or path.exists():
        return path
    return SHIPPED / f"{name}.lark"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="constrain", description=__doc__)
    parser.add_argument("prompt", help="what to ask the model")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--regex", help="the whole output must match this regex")
    what.add_argument("--choices", nargs="+", metavar="CHOICE", help="the output is one of these")
    what.add_argument("--grammar", help="a Lark grammar file, or a shipped one: json, sql, arithmetic, csv")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 is greedy (default)")
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--system", default=None, help="a system message for the chat template")
    args = parser.parse_args(argv)

    from .generate import generate_structured
    from .hf.model import load_default_model

    try:
        model, tokenizer = load_default_model()
        grammar = shipped_grammar(args.grammar) if args.grammar else None
        result = generate_structured(model, tokenizer, args.prompt, regex=args.regex, choices=args.choices,
                                     grammar=grammar,
                                     max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                                     top_p=args.top_p, seed=args.seed, system=args.system)
    except ConstrainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"text": result.text, "accepted": result.accepted, "complete": result.complete,
                      "method": result.method, "new_tokens": result.num_new_tokens,
                      "seconds": round(result.seconds, 2)}, ensure_ascii=False))
    return 0 if result.accepted else 1


if __name__ == "__main__":
    sys.exit(main())
