"""Array backends: the ``xp`` namespace the engine computes with.

The model code calls only ``backend.xp.<fn>`` and the small kernels defined
here, so a GPU array library with numpy's interface (CuPy) can replace numpy
without touching the math. The tests run the engine through a stand-in
namespace; the CuPy path itself has not yet been run on a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from ..common.errors import CharRNNError
from . import kernels


@dataclass(frozen=True)
class Backend:
    """An array namespace plus the few kernels numpy's API does not name alike everywhere.

    Attributes
    ----------
    name : str
        ``"numpy"`` or ``"cupy"``.
    xp : module
        The array module (``numpy`` or ``cupy``).
    """

    name: str
    xp: ModuleType

    def onehot_grad(self, index: Any, values: Any, out: Any, ws: Any, bias: Any = None) -> None:
        """``out = values^T @ onehot(index)``: the input weight's gradient of a one-hot layer.

        Column ``v`` of ``out`` sums the rows ``values[i]`` with ``index[i] == v``.

        Parameters
        ----------
        index : int array (N,)
        values : array (N, G)
        out : array (G, V)
        ws : Workspace
            Holds the (N, V) one-hot matrix between calls.
        bias : array (G,), optional
            Also receives ``values.sum(axis=0)``, the bias's gradient.
        """
        fused = kernels.active(self.xp)
        if fused is not None and bias is not None and kernels.fits(out.dtype, values, out, bias):
            # fused.c's onehot_grad: a scatter-add of the N rows, not a matmul of
            # mostly zeros, with the bias's sum from the V accumulated rows.
            N, G = values.shape
            V = out.shape[1]
            idx = np.ascontiguousarray(index, dtype=np.intp)
            acc = ws.get("onehot-acc", (V, G), out.dtype)  # (V, G)
            adr = kernels.address
            bad = fused.fn("onehot_grad", out.dtype)(
                N, G, V, adr(idx), adr(values), adr(acc), adr(out), adr(bias)
            )
            if bad:
                raise IndexError(f"{bad} input ids outside the vocabulary of {V}")
            return
        if bias is not None:
            values.sum(axis=0, out=bias)
        # A one-hot matmul beats np.add.at by an order of magnitude for the sizes
        # we see (V <= a few hundred); it is also how a GPU would do it.
        N, V = index.shape[0], out.shape[1]
        onehot = ws.clean("onehot", (N, V), values.dtype)  # (N, V), all zeros
        rows = ws.arange(N)
        onehot[rows, index] = 1
        self.xp.matmul(values.T, onehot, out=out)
        onehot[rows, index] = 0  # clean again for the next call

    def asnumpy(self, a: Any) -> np.ndarray:
        """Copy an array of this backend to host numpy."""
        if self.name == "numpy":
            return np.asarray(a)
        return self.xp.asnumpy(a)

    def asarray(self, a: Any, dtype: Any = None) -> Any:
        """Move a host array onto this backend."""
        return self.xp.asarray(a, dtype=dtype)


NUMPY = Backend("numpy", np)


def get_backend(name: str = "numpy") -> Backend:
    """Return the backend called ``name`` (``"numpy"`` or ``"cupy"``).

    Raises
    ------
    CharRNNError
        If the name is unknown or its library is not installed.
    """
    if name == "numpy":
        return NUMPY
    if name == "cupy":
        try:
            import cupy  # type: ignore[import-not-found]
        except ImportError as exc:
            raise CharRNNError(
                "the cupy backend needs CuPy (e.g. `pip install cupy-cuda12x` on a machine "
                "with a CUDA GPU); use the numpy backend otherwise"
            ) from exc
        return Backend("cupy", cupy)
    raise CharRNNError(f"unknown backend {name!r}: choose 'numpy' or 'cupy'")
