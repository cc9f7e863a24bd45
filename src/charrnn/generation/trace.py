"""Explain mode: walk a model through a text one character at a time.

This is the tutorial's teaching printout (inputs, hidden state, softmax,
loss per step) as data, for any trained model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core import jamo3
from ..core.cells import Cell, cell_of, get_cell
from ..core.model import Params, Workspace, step, zero_state
from ..core.vocab import Vocab


@dataclass(frozen=True)
class TraceStep:
    """What the model does at one step."""

    t: int
    input_char: str
    input_id: int
    hidden: np.ndarray  # (H,) of the top layer
    top: tuple[tuple[str, float], ...]  # most likely next characters, best first
    target_char: str
    target_prob: float
    running_loss: float  # mean nats/char over steps 0..t
    # The top layer's gates, {name: (H,)}: the GRU's update and reset gates, the LSTM's
    # forget, input and output gates; empty for the tanh cell.
    gates: dict[str, np.ndarray] = field(default_factory=dict)
    # jamo3 units: the target's probability as its factors, (factor, jamo, p) for the
    # initial, the medial and the final (or none) of a syllable; empty otherwise.
    factors: tuple[tuple[str, str, float], ...] = ()


def trace(
    params: Params,
    vocab: Vocab,
    text: str,
    *,
    mode: str = "words",
    top: int = 3,
    cell: str | Cell | None = None,
) -> list[TraceStep]:
    """Run ``'\\n' + text`` through the model, predicting ``text`` (+ ``'\\n'`` in words mode).

    Parameters
    ----------
    params : dict
    vocab : Vocab
    text : str
        Must be in the vocabulary.
    mode : {"words", "text"}
    top : int
        How many of the most likely next characters to report per step.
    cell : cell or str, optional
        The model's cell (``Config.cell``); ``None``: ``cell_of(params)``, once.
    """
    vocab.clean(text)
    # The model's symbols: in jamo units each step reads one jamo.
    seq = "\n" + vocab.to_symbols(text) + ("\n" if mode == "words" else "")
    ids = vocab.encode(seq, symbols=True)
    cell = get_cell(cell) if cell is not None else cell_of(params)
    h = zero_state(params, 1, cell=cell)
    ws = Workspace()
    steps, total = [], 0.0
    for t in range(len(ids) - 1):
        record: list[dict[str, np.ndarray]] = []
        h, logits = step(params, ids[t : t + 1], h, ws=ws, record=record, cell=cell)
        z = logits[0].astype(np.float64)
        p = np.exp(z - z.max())
        p /= p.sum()
        best = np.argsort(-p, kind="stable")[:top]
        target = int(ids[t + 1])
        total += -float(np.log(p[target]))
        top_state = cell.output(h[-1])  # (1, H)
        factors: tuple[tuple[str, str, float], ...] = ()
        if jamo3.is_jamo3(params) and target >= vocab.n_other:
            factors = tuple(jamo3.factor_probs(params, top_state, np.array([target]))[0])
        steps.append(
            TraceStep(
                t=t,
                input_char=seq[t],
                input_id=int(ids[t]),
                hidden=top_state[0].astype(np.float64).copy(),
                top=tuple((vocab.itos[i], float(p[i])) for i in best),
                target_char=seq[t + 1],
                target_prob=float(p[target]),
                running_loss=total / (t + 1),
                gates={k: v[0].astype(np.float64) for k, v in record[-1].items()},
                factors=factors,
            )
        )
    return steps
