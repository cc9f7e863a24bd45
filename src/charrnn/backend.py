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

from .errors import CharRNNError


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

    def scatter_add_rows(self, out: Any, index: Any, values: Any) -> None:
        """``out[index[i]] += values[i]`` for every row ``i``, repeated indices summed.

        Parameters
        ----------
        out : array (V, H)
        index : int array (N,)
        values : array (N, H)
        """
        # One-hot matmul beats np.add.at by an order of magnitude for the sizes
        # we see (V <= a few hundred); it is also how a GPU would do it.
        V = out.shape[0]
        onehot = self.xp.zeros((V, index.shape[0]), dtype=values.dtype)  # (V, N)
        onehot[index, self.xp.arange(index.shape[0])] = 1
        out += onehot @ values

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
