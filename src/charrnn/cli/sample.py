"""``charrnn sample``: generate samples, optionally only new words or marked new/seen."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..api import CharRNN
from ..common.errors import CharRNNError
from ..core.vocab import Vocab
from ..data.files import read_text
from .flags import number, seed, whole_number
from .output import clean, load_model, model_arg, say, unknown_arg


def add_parser(subparsers: Any) -> None:
    """Add ``sample`` to the CLI's subparsers."""
    s = subparsers.add_parser(
        "sample",
        help="generate samples",
        description="Print the samples: one per line in words mode. In text mode each "
        "sample follows a heading line '──────── sample I of N ────────' drawn with a "
        "character the model cannot generate (U+2500, or the next one it does not know), "
        "so a heading is never part of a sample; a single sample streams without one.",
    )
    model_arg(s)
    s.add_argument("--prefix", metavar="P", help="text every sample starts with")
    s.add_argument("--prefix-file", metavar="FILE", help="read the prefix from a file")
    s.add_argument("--encoding", default="utf-8", help="encoding of --prefix-file")
    s.add_argument("-n", type=whole_number, default=10, help="number of samples (default 10)")
    s.add_argument(
        "--temperature",
        type=number,
        default=1.0,
        metavar="X",
        help="below 1 is safer, above 1 wilder; 0 is greedy (default 1)",
    )
    s.add_argument("--top-k", type=whole_number, metavar="K", help="sample among the K likeliest")
    s.add_argument("--greedy", action="store_true", help="always the most likely character")
    s.add_argument(
        "--max-len",
        type=whole_number,
        metavar="L",
        help="characters to generate (default 100 words / 500 text)",
    )
    s.add_argument("--seed", type=seed, default=0, metavar="S", help="default 0")
    s.add_argument(
        "--novelty",
        action="store_true",
        help="words mode: mark each sample new or in the training set",
    )
    s.add_argument(
        "--only-new",
        action="store_true",
        help="words mode: leave out samples that are training words, drawing more until "
        "there are -n of them (a filter on sampling; --novelty measures the model)",
    )
    s.add_argument(
        "--allow-empty",
        action="store_true",
        help="words mode: let a sample without a prefix be the empty word. By default the "
        "boundary is masked at the first step and the other characters' probabilities are "
        "renormalised, so each word is drawn with p(word) / (1 - p(empty word)); score and "
        "eval report the unmasked model",
    )
    s.add_argument("--json", action="store_true", help="print one JSON object")
    unknown_arg(s)
    s.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the samples (or stream one text sample as it is made)."""
    model = load_model(args.run)
    if args.prefix is not None and args.prefix_file is not None:
        raise CharRNNError("give either --prefix or --prefix-file, not both")
    prefix = args.prefix or ""
    if args.prefix_file is not None:
        prefix = read_text(args.prefix_file, args.encoding)
        if model.config_.mode == "words":
            prefix = prefix.strip()
    prefix = clean(model.vocab_, prefix, args.unknown, "the prefix")
    mode = model.config_.mode
    if args.novelty and args.only_new:
        raise CharRNNError(
            "--novelty counts how many of the model's samples are new, --only-new keeps "
            "only new ones (so they would all count): choose one"
        )
    if (args.novelty or args.only_new) and mode != "words":
        flag = "--novelty" if args.novelty else "--only-new"
        raise CharRNNError(f"{flag} applies to words-mode models only")
    options: dict[str, Any] = dict(
        prefix=prefix,
        temperature=args.temperature,
        top_k=args.top_k,
        greedy=args.greedy,
        max_len=args.max_len,
        allow_empty=args.allow_empty,
        random_state=args.seed,
    )
    # Jamo units print whole syllables, so they are composed before printing, not streamed.
    if mode == "text" and args.n == 1 and not args.json and not model.vocab_.units.splits_chars:
        _Stream(prefix).run(model, options)
        return 0
    known = model.training_words() if args.novelty else None
    if args.only_new:
        samples, drawn = model.sample_new(args.n, **options)
        if len(samples) < args.n:
            greedy = args.greedy or args.temperature == 0
            advice = (
                "greedy decoding draws one word over and over; leave out --greedy"
                if greedy
                else "a higher --temperature gives more new ones"
            )
            say(f"only {len(samples)} of {drawn:,} samples were not training words; {advice}")
    else:
        samples = model.sample(args.n, **options)
    if args.json:
        out: dict[str, Any] = {"samples": samples}
        if known is not None:
            out["new"] = [s not in known for s in samples]
            out["new_share"] = sum(out["new"]) / len(samples)
        print(json.dumps(out, ensure_ascii=False))
        return 0
    rule = separator_char(model.vocab_) * 8
    for i, s in enumerate(samples, 1):
        if known is not None:
            print(f"{s}\t{'new' if s not in known else 'in training set'}")
        elif mode == "words":
            print(s)
        else:
            print(f"{rule} sample {i} of {len(samples)} {rule}")
            print(s)
    if known is not None:
        new = sum(s not in known for s in samples)
        print(f"# new: {new} of {len(samples)} ({100 * new / len(samples):.1f}%)")
    return 0


class _Stream:
    """One text sample written as it is made.

    The prefix goes out with the first generated character, so a request that
    the sampler refuses prints nothing.
    """

    def __init__(self, prefix: str):
        self.pending = prefix
        self.started = False

    def write(self, chars: list[str]) -> None:
        head = "" if self.started else self.pending
        self.started = True
        sys.stdout.write(head + chars[0])
        sys.stdout.flush()

    def run(self, model: CharRNN, options: dict[str, Any]) -> None:
        model.sample(1, on_step=self.write, **options)
        sys.stdout.write("\n")


def separator_char(vocab: Vocab) -> str:
    """A character the model cannot generate, for the line that heads each text sample.

    The box-drawing line (U+2500) unless the model knows it; then the next code
    point it does not know, so a heading can never be part of a sample.
    """
    return next(chr(c) for c in range(0x2500, 0x2500 + vocab.size + 1) if chr(c) not in vocab.stoi)
