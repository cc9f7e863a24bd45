"""Numerical gradient check: central differences in float64 against :func:`backward`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import Cache, Params, backward, forward, get_cell, init_params, param_specs
from .vocab import S_COUNT, T_COUNT


@dataclass(frozen=True)
class GradCheckCase:
    """A random problem to check: parameters, a (T, B) batch, mask and initial state."""

    params: Params
    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray | None
    h0: np.ndarray  # (L, B, S)
    dropout: float = 0.0
    drop_seed: int = 0  # every forward of the check draws the same dropout masks
    weight_drop: float = 0.0  # the same weight-drop masks too
    cell: str | None = None  # the registered cell by name; None: cell_of(params)
    dropout_masks: str = "step"  # a mask per time step, or one per sequence

    def forward(self, params: Params) -> tuple[float, Cache]:
        """The summed loss (and cache) at ``params``, with this case's fixed dropout masks."""
        drawn = self.dropout or self.weight_drop
        rng = np.random.default_rng(self.drop_seed) if drawn else None
        return forward(
            params,
            self.inputs,
            self.targets,
            self.h0,
            self.mask,
            dropout=self.dropout,
            rng=rng,
            cell=self.cell,
            weight_drop=self.weight_drop,
            dropout_masks=self.dropout_masks,
        )


def random_case(
    rng: np.random.Generator,
    *,
    V: int = 7,
    H: int = 6,
    T: int = 5,
    B: int = 3,
    ragged: bool = True,
    carried_state: bool = True,
    layers: int = 1,
    dropout: float = 0.0,
    cell: str = "rnn",
    units: str = "char",
    weight_drop: float = 0.0,
) -> GradCheckCase:
    """A float64 problem with weights large enough that tanh is not linear.

    ``ragged`` pads sequences to different lengths (words mode); ``carried_state``
    starts from a non-zero initial state (text mode's truncated BPTT); ``layers``
    stacks RNNs; ``dropout`` and ``weight_drop`` check the training-mode
    gradient with fixed masks;
    ``cell`` is a registered cell's name (``"rnn"``, ``"gru"``, ``"lstm"``, ...).
    ``units="jamo3"`` checks the factored head and the three-hot input: V is then
    the number of other characters, and every syllable follows them; ids are a
    mix of other characters, open syllables and syllables with a final.
    """
    n_ids = V + S_COUNT if units == "jamo3" else V
    params = init_params(
        n_ids,
        H,
        rng,
        layers=layers,
        init="normal",
        scale=0.5,
        dtype="float64",
        cell=cell,
        units=units,
    )
    for spec in param_specs(n_ids, H, layers, cell, units):
        if not spec.is_weight:  # non-zero biases, so a wrong bias gradient shows
            params[spec.name] = rng.standard_normal(spec.shape) * 0.1
    inputs, targets = (_ids(rng, V, units, (T, B)) for _ in range(2))
    mask = None
    if ragged:
        lengths = rng.integers(1, T + 1, size=B)
        lengths[0] = T
        mask = np.arange(T)[:, None] < lengths[None, :]
    shape = (layers, *get_cell(cell).state_shape(B, H))
    h0 = np.tanh(rng.standard_normal(shape)) if carried_state else np.zeros(shape)
    drop_seed = int(rng.integers(2**31))
    return GradCheckCase(params, inputs, targets, mask, h0, dropout, drop_seed, weight_drop, cell)


def _ids(rng: np.random.Generator, V: int, units: str, shape: tuple[int, int]) -> np.ndarray:
    """Random ids; in jamo3 units a third other characters, the rest syllables, a third open."""
    if units != "jamo3":
        return rng.integers(0, V, size=shape)
    syllables = rng.integers(0, S_COUNT, size=shape)
    syllables -= (syllables % T_COUNT) * (rng.random(shape) < 1 / 3)  # no final
    return np.where(rng.random(shape) < 1 / 3, rng.integers(0, V, size=shape), V + syllables)


def numerical_grads(case: GradCheckCase, eps: float = 1e-3) -> dict[str, np.ndarray]:
    """Central-difference gradient of the summed loss for every parameter entry.

    Uses the fourth-order central stencil
    ``(-f(x+2e) + 8 f(x+e) - 8 f(x-e) + f(x-2e)) / 12e``: with the plain
    two-point rule, rounding in a loss of size ~10 already costs 1e-6 relative
    error on gradient entries of size 1e-5, which would hide real bugs among
    false alarms.
    """

    def loss_at(params: Params) -> float:
        return case.forward(params)[0]

    params = {k: v.copy() for k, v in case.params.items()}
    num = {}
    for name in params:
        p = params[name]
        g = np.zeros_like(p)
        it = np.nditer(p, flags=["multi_index"])
        for _ in it:
            i = it.multi_index
            old = p[i]
            f = {}
            for k in (-2, -1, 1, 2):
                p[i] = old + k * eps
                f[k] = loss_at(params)
            p[i] = old
            # Differences first: equal losses must give exactly zero.
            g[i] = (8 * (f[1] - f[-1]) - (f[2] - f[-2])) / (12 * eps)
        num[name] = g
    return num


def analytic_grads(case: GradCheckCase, bptt: str = "full") -> dict[str, np.ndarray]:
    """Gradient of the summed loss from :func:`backward`."""
    _, cache = case.forward(case.params)
    grads, _ = backward(case.params, cache, scale=1.0, bptt=bptt, cell=case.cell)
    return grads


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|a| + |b|, 1e-8), the cs231n measure."""
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8)))


def check(case: GradCheckCase, bptt: str = "full") -> dict[str, float]:
    """Max relative error per parameter between backward and central differences."""
    num = numerical_grads(case)
    ana = analytic_grads(case, bptt)
    return {k: relative_error(ana[k], num[k]) for k in case.params}
