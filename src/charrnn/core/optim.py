"""Optimisers and gradient clipping, one interface: ``step(params, grads)`` in place."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..common.errors import CharRNNError
from . import kernels


def clip_value(grads: dict[str, Any], bound: float) -> None:
    """The tutorial's element-wise clip: every entry into ``[-bound, bound]``, in place."""
    for g in grads.values():
        np.clip(g, -bound, bound, out=g)


def global_norm(grads: dict[str, Any]) -> float:
    """sqrt of the sum of squares of every gradient entry."""
    return math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))


def clip_norm(grads: dict[str, Any], max_norm: float, norm: float | None = None) -> float:
    """Scale all gradients together so their global norm is at most ``max_norm``.

    ``norm`` may be given when the caller has computed it already. Returns the
    norm before clipping.
    """
    if norm is None:
        norm = global_norm(grads)
    if norm > max_norm:
        factor = max_norm / (norm + 1e-12)
        for g in grads.values():
            g *= factor
    return norm


def clip_grads(grads: dict[str, Any], mode: str, bound: float) -> None:
    """Apply ``mode`` in {"value", "norm", "none"} with ``bound``."""
    if mode == "value":
        clip_value(grads, bound)
    elif mode == "norm":
        clip_norm(grads, bound)
    elif mode != "none":
        raise ValueError(f"unknown clip mode {mode!r}")


class Optimizer:
    """Base class: a learning rate, named state arrays and a step counter.

    Subclasses implement :meth:`_update`. State lives in ``self.state`` as
    ``{slot: {param_name: array}}`` so that checkpoints can save it as plain arrays.
    """

    slots: tuple[str, ...] = ()

    def __init__(self, lr: float):
        self.lr = lr
        self.t = 0
        self.state: dict[str, dict[str, Any]] = {}
        self._scratch: dict[str, Any] = {}  # per-parameter work space, never saved

    def scratch(self, name: str, like: Any) -> Any:
        """A reusable buffer shaped like ``like`` (no allocation per step)."""
        buf = self._scratch.get(name)
        if buf is None or buf.shape != like.shape or buf.dtype != like.dtype:
            buf = self._scratch[name] = np.empty_like(like)
        return buf

    def _ensure_state(self, params: dict[str, Any]) -> None:
        for slot in self.slots:
            if slot not in self.state:
                self.state[slot] = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, params: dict[str, Any], grads: dict[str, Any]) -> None:
        """Update ``params`` in place from ``grads`` (which may be overwritten)."""
        self._ensure_state(params)
        self.t += 1
        for k, p in params.items():
            self._update(k, p, grads[k])

    def _update(self, name: str, p: Any, g: Any) -> None:
        raise NotImplementedError

    def state_arrays(self) -> dict[str, Any]:
        """Flat ``{"slot/param": array}`` for saving."""
        return {f"{s}/{k}": a for s, d in self.state.items() for k, a in d.items()}

    def load_state_arrays(self, arrays: dict[str, Any], t: int) -> None:
        """Inverse of :meth:`state_arrays`."""
        self.t = t
        self.state = {}
        for key, a in arrays.items():
            slot, name = key.split("/", 1)
            self.state.setdefault(slot, {})[name] = a.copy()


class SGD(Optimizer):
    """Plain gradient descent, the tutorial's ``param += -lr * dparam``."""

    def _update(self, name: str, p: Any, g: Any) -> None:
        g *= self.lr
        p -= g


class Adagrad(Optimizer):
    """min-char-rnn's Adagrad: ``mem += g^2; p -= lr g / sqrt(mem + 1e-8)``."""

    slots = ("mem",)

    def _update(self, name: str, p: Any, g: Any) -> None:
        mem, tmp = self.state["mem"][name], self.scratch(name, p)
        np.multiply(g, g, out=tmp)
        mem += tmp
        np.add(mem, 1e-8, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.divide(g, tmp, out=tmp)
        tmp *= self.lr
        p -= tmp


class Adam(Optimizer):
    """Adam with bias correction (Kingma and Ba, 2015)."""

    slots = ("m", "v")

    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def _update(self, name: str, p: Any, g: Any) -> None:
        m, v = self.state["m"][name], self.state["v"][name]
        # Fold both bias corrections into one step size.
        step = self.lr * math.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)
        fused = kernels.active(np) if isinstance(p, np.ndarray) else None
        if fused is not None and kernels.fits(p.dtype, p, g, m, v):
            # fused.c's adam: the lines below in one pass over the four arrays.
            adr = kernels.address
            fused.fn("adam", p.dtype)(
                p.size, adr(p), adr(g), adr(m), adr(v), step, self.beta1, self.beta2, self.eps
            )
            return
        tmp = self.scratch(name, p)
        m *= self.beta1
        np.multiply(g, 1 - self.beta1, out=tmp)
        m += tmp
        v *= self.beta2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - self.beta2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= step
        p -= tmp


OPTIMIZERS = {"sgd": SGD, "adagrad": Adagrad, "adam": Adam}


def make_optimizer(name: str, lr: float) -> Optimizer:
    """Build the optimiser called ``name`` with learning rate ``lr``."""
    try:
        return OPTIMIZERS[name](lr)
    except KeyError:
        raise CharRNNError(f"unknown optimizer {name!r}: choose {', '.join(OPTIMIZERS)}") from None
