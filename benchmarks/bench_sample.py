"""Sampling speed: 10,000 words from a names model (H=256), charrnn vs a PyTorch loop.

Both use the same trained weights and the same recipe: start from the boundary
character, one batched step per character, multinomial sampling from the
softmax, stop each word at the boundary. charrnn drops finished words from the
batch; the PyTorch loop is written the way one usually writes it (the whole
batch each step until every word has ended). For a gated cell (``--cell``) the
loop steps ``torch.nn.GRUCell`` / ``LSTMCell`` holding charrnn's weights, fed
one-hot rows.

    python benchmarks/bench_sample.py
    python benchmarks/bench_sample.py --cell gru    # or lstm

Where the compiled kernels are built, a "numpy cells" row samples with charrnn's
numpy cells in the same rounds: the compiled kernels' gain, before and after.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from charrnn import CharRNN
from charrnn.core import kernels
from charrnn.core.cells import cell_names, get_cell
from charrnn.generation.sample import sample, score
from common import blas_report, names_source, out, paired, rounds, summary

NUMPY_ROW = "numpy cells"  # charrnn on its numpy cells, where the compiled ones are built


def decode_rows(ids: np.ndarray, vocab) -> list[str]:
    """Each row of sampled ids (n, steps) as a word: up to its first boundary."""
    words = []
    for row in ids:
        end = np.flatnonzero(row == vocab.boundary_id)
        words.append(vocab.decode(row[: end[0] if len(end) else len(row)]))
    return words


def torch_loop(step, state0, WhyT, by, vocab, max_len: int):
    """The sampling loop as one usually writes it: the whole batch each step until
    every word has ended. ``step(x, state) -> (state, h)`` is the cell."""
    import torch

    gen = torch.Generator().manual_seed(0)
    boundary = vocab.boundary_id
    n = (state0 if isinstance(state0, torch.Tensor) else state0[0]).shape[0]

    @torch.no_grad()
    def run() -> list[str]:
        state = state0
        x = torch.full((n,), boundary, dtype=torch.long)
        outs, done = [], torch.zeros(n, dtype=torch.bool)
        for _ in range(max_len):
            state, h = step(x, state)
            probs = torch.softmax(h @ WhyT + by, dim=1)
            x = torch.multinomial(probs, 1, generator=gen).squeeze(1)
            outs.append(x)
            done |= x == boundary
            if bool(done.all()):
                break
        return decode_rows(torch.stack(outs).T.numpy(), vocab)

    return run


def torch_sampler(params, vocab, n: int, max_len: int):
    import torch

    P = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in params.items()}
    WxhT, WhhT, WhyT = P["Wxh"].T.contiguous(), P["Whh"].T.contiguous(), P["Why"].T.contiguous()

    def step(x, h):
        h = torch.tanh(WxhT[x] + h @ WhhT + P["bh"])
        return h, h

    return torch_loop(step, torch.zeros(n, WhhT.shape[0]), WhyT, P["by"], vocab, max_len)


def torch_gated_sampler(params, vocab, n: int, max_len: int, cell: str):
    """The same loop over ``torch.nn.GRUCell`` / ``LSTMCell`` with charrnn's weights."""
    import torch

    P = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in params.items()}
    V = P["Why"].shape[0]
    if cell == "gru":
        Wx, Wh, b = P["Wxrzn"], P["Whrzn"], P["brzn"]
        step = torch.nn.GRUCell(V, Wh.shape[1])
        # brzn holds the input bias and the r, z recurrent biases summed; bhn is the rest.
        bias_hh = torch.cat([torch.zeros(2 * Wh.shape[1]), P["bhn"]])
    else:
        Wx, Wh, b = P["Wxifgo"], P["Whifgo"], P["bifgo"]
        step = torch.nn.LSTMCell(V, Wh.shape[1])
        bias_hh = torch.zeros_like(b)
    with torch.no_grad():
        for tensor, value in (
            (step.weight_ih, Wx),
            (step.weight_hh, Wh),
            (step.bias_ih, b),
            (step.bias_hh, bias_hh),
        ):
            tensor.copy_(value)
    WhyT = P["Why"].T.contiguous()
    eye = torch.eye(V)
    boundary = vocab.boundary_id

    def stepped(x, state):
        state = step(eye[x], state)
        return state, state if cell == "gru" else state[0]

    H = Wh.shape[1]
    state0 = torch.zeros(n, H) if cell == "gru" else (torch.zeros(n, H), torch.zeros(n, H))
    run = torch_loop(stepped, state0, WhyT, P["by"], vocab, max_len)

    @torch.no_grad()
    def logprob(word: str) -> float:
        """log p(word + boundary | boundary), teacher-forced: to check the weights agree."""
        ids = [boundary, *vocab.encode(word), boundary]
        H = Wh.shape[1]
        state = torch.zeros(1, H) if cell == "gru" else (torch.zeros(1, H), torch.zeros(1, H))
        total = 0.0
        for a, b in itertools.pairwise(ids):
            state = step(eye[[a]], state)
            h = state if cell == "gru" else state[0]
            total += float(torch.log_softmax(h @ WhyT + P["by"], dim=1)[0, b])
        return total

    return run, logprob


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--train-steps", type=int, default=600)
    # The cells with a torch twin to compare against (the registry says which).
    twins = [c for c in cell_names() if getattr(get_cell(c), "torch_module", None)]
    ap.add_argument("--cell", choices=twins, default="rnn")
    args = ap.parse_args()
    import torch
    from threadpoolctl import threadpool_info

    torch.set_num_threads(
        max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
    )
    out(blas_report())
    out(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    src = names_source()
    model = CharRNN(
        hidden=256, steps=args.train_steps, batch_size=64, init="scaled", cell=args.cell
    ).fit(src)
    out(
        f"names model: {args.cell} H=256 trained {args.train_steps} steps on {src}, "
        f"held-out {model.history_[-1].val_loss:.3f} nats/char"
    )
    max_len = 100
    rng = np.random.default_rng(0)
    ours = lambda: sample(model.params_, model.vocab_, n=args.n, max_len=max_len, rng=rng)  # noqa: E731
    if args.cell == "rnn":
        theirs = torch_sampler(model.params_, model.vocab_, args.n, max_len)
    else:
        theirs, logprob = torch_gated_sampler(
            model.params_, model.vocab_, args.n, max_len, args.cell
        )
        words = ["emma", "olivia", "x"]
        gap = max(
            abs(s.logprob - logprob(w))
            for s, w in zip(score(model.params_, model.vocab_, words), words, strict=True)
        )
        out(
            f"torch.nn.{args.cell.upper()}Cell holds the same model: log p of {words} agree "
            f"to {gap:.1e}"
        )
        if gap > 1e-3:
            raise SystemExit("the torch cell does not hold charrnn's model: weights mapped wrong")
    lengths = {"charrnn": [], "torch": []}

    def engine(name, fn):
        def run(steps: int) -> int:
            for _ in range(steps):
                words = fn()
                lengths[name].append(np.mean([len(w) for w in words]))
            return steps * args.n

        return run

    engines = {"charrnn": engine("charrnn", ours), "torch": engine("torch", theirs)}
    if kernels.active(np) is not None:  # the numpy cells beside the compiled ones, same rounds

        def numpy_cells():
            with kernels.using("numpy"):
                return ours()

        lengths[NUMPY_ROW] = []
        engines[NUMPY_ROW] = engine(NUMPY_ROW, numpy_cells)
    out(f"charrnn {kernels.describe()}")
    rates = rounds(engines, seconds=1.0, repeats=args.repeats)
    out(f"{args.n:,} words per call; words/s median [min-max] over {args.repeats} rounds")
    for name, vals in rates.items():
        out(f"  {name:<14}{summary(vals)}   mean word length {np.mean(lengths[name]):.2f}")
    out(f"  charrnn / torch: {paired(rates, 'charrnn', 'torch'):.2f}x")
    if NUMPY_ROW in rates:
        out(f"  charrnn / {NUMPY_ROW}: {paired(rates, 'charrnn', NUMPY_ROW):.2f}x")


if __name__ == "__main__":
    main()
