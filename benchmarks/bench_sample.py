"""Sampling speed: 10,000 words from a names model (H=256), charrnn vs a PyTorch loop.

Both use the same trained weights and the same recipe: start from the boundary
character, one batched step per character, multinomial sampling from the
softmax, stop each word at the boundary. charrnn drops finished words from the
batch; the PyTorch loop is written the way one usually writes it (the whole
batch each step until every word has ended).

    python benchmarks/bench_sample.py
"""

from __future__ import annotations

import argparse

import numpy as np

from charrnn import CharRNN
from charrnn.sample import sample
from common import blas_report, names_source, out, paired, rounds, summary


def torch_sampler(params, vocab, n: int, max_len: int):
    import torch

    P = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in params.items()}
    WxhT, WhhT, WhyT = P["Wxh"].T.contiguous(), P["Whh"].T.contiguous(), P["Why"].T.contiguous()
    gen = torch.Generator().manual_seed(0)
    boundary = vocab.boundary_id

    @torch.no_grad()
    def run() -> list[str]:
        h = torch.zeros(n, WhhT.shape[0])
        x = torch.full((n,), boundary, dtype=torch.long)
        outs, done = [], torch.zeros(n, dtype=torch.bool)
        for _ in range(max_len):
            h = torch.tanh(WxhT[x] + h @ WhhT + P["bh"])
            probs = torch.softmax(h @ WhyT + P["by"], dim=1)
            x = torch.multinomial(probs, 1, generator=gen).squeeze(1)
            outs.append(x)
            done |= x == boundary
            if bool(done.all()):
                break
        ids = torch.stack(outs).T.numpy()
        words = []
        for row in ids:
            end = np.flatnonzero(row == boundary)
            words.append(vocab.decode(row[: end[0] if len(end) else len(row)]))
        return words

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--train-steps", type=int, default=600)
    args = ap.parse_args()
    import torch
    from threadpoolctl import threadpool_info

    torch.set_num_threads(
        max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
    )
    out(blas_report())
    out(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    src = names_source()
    model = CharRNN(hidden=256, steps=args.train_steps, batch_size=64, init="scaled").fit(src)
    out(f"names model: H=256 trained {args.train_steps} steps on {src}, "
        f"held-out {model.history_[-1].val_loss:.3f} nats/char")  # fmt: skip
    max_len = 100
    rng = np.random.default_rng(0)
    ours = lambda: sample(model.params_, model.vocab_, n=args.n, max_len=max_len, rng=rng)  # noqa: E731
    theirs = torch_sampler(model.params_, model.vocab_, args.n, max_len)
    lengths = {"charrnn": [], "torch": []}

    def engine(name, fn):
        def run(steps: int) -> int:
            for _ in range(steps):
                words = fn()
                lengths[name].append(np.mean([len(w) for w in words]))
            return steps * args.n

        return run

    rates = rounds({"charrnn": engine("charrnn", ours), "torch": engine("torch", theirs)},
                   seconds=1.0, repeats=args.repeats)  # fmt: skip
    out(f"{args.n:,} words per call; words/s median [min-max] over {args.repeats} rounds")
    for name, vals in rates.items():
        out(f"  {name:<8}{summary(vals)}   mean word length {np.mean(lengths[name]):.2f}")
    out(f"  charrnn / torch: {paired(rates, 'charrnn', 'torch'):.2f}x")


if __name__ == "__main__":
    main()
