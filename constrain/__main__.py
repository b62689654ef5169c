"""`python -m constrain PROMPT (--schema FILE | --regex R | --choices A B C | --grammar G)`: the main job on
the default model. Prints the value as JSON on stdout, how it was obtained on stderr (or everything as one
JSON object with --details). G is a .lark file or the name of a shipped grammar (json, sql, arithmetic,
csv). Exit status: 0 valid, 1 no valid value, 2 bad arguments."""
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
    what.add_argument("--schema", metavar="FILE", help="a JSON Schema file: the output is a valid JSON value")
    what.add_argument("--regex", help="the whole output must match this regex")
    what.add_argument("--choices", nargs="+", metavar="CHOICE", help="the output is one of these")
    what.add_argument("--grammar", help="a Lark grammar file, or a shipped one: json, sql, arithmetic, csv")
    parser.add_argument("--strategy", default="auto", help="auto (default), constrained, repair or retry")
    parser.add_argument("--attempts", type=int, default=None, help="most rounds (default: 3 auto/retry, else 1)")
    parser.add_argument("--best-of", type=int, default=1, help="candidates per round; the likeliest valid wins")
    parser.add_argument("--feedback", action="store_true", help="retries quote the rejected reply and why")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 is greedy (default)")
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--system", default=None, help="a system message for the chat template")
    parser.add_argument("--details", action="store_true", help="print the whole result as one JSON object")
    args = parser.parse_args(argv)

    from .generate import generate_structured
    from .hf.model import load_default_model

    try:
        schema = Path(args.schema).read_text(encoding="utf-8") if args.schema else None
    except OSError as exc:
        print(f"error: cannot read the schema: {exc}", file=sys.stderr)
        return 2
    try:
        model, tokenizer = load_default_model()
        result = generate_structured(
            model, tokenizer, args.prompt, schema=schema, regex=args.regex, choices=args.choices,
            grammar=shipped_grammar(args.grammar) if args.grammar else None, strategy=args.strategy,
            attempts=args.attempts, best_of=args.best_of, feedback=args.feedback,
            max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p, seed=args.seed,
            system=args.system)
    except ConstrainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    how = {"valid": result.valid, "method": result.method, "attempts": result.attempts,
           "tokens_used": result.tokens_used, "mean_logprob": round(result.mean_logprob, 4),
           "seconds": round(result.seconds, 2)}
    if args.details:
        print(json.dumps({"value": result.value, "text": result.text, "errors": result.errors, **how},
                         ensure_ascii=False))
    elif result.valid:
        print(json.dumps(result.value, ensure_ascii=False))
        print(" ".join(f"{k}={v}" for k, v in how.items()), file=sys.stderr)
    else:
        print(f"no valid value: {'; '.join(result.errors)}\ntext: {result.text!r}", file=sys.stderr)
    return 0 if result.valid else 1


if __name__ == "__main__":
    sys.exit(main())
