"""Optional compiled kernels: each step's element-wise work between its matmuls, fused.

The numpy cells are the reference and the default where nothing is built. A
small C file beside this module (``fused.c``) holds, per cell, one function for
everything of a forward step after its matmul (the gates' non-linearities, the
cell update, the writing of the state into the cache), one for a full-BPTT
backward step before its matmul (called once over all steps for the naive rule,
which carries nothing from step to step), and one for a sliding-window step, each
one pass over data in cache, with glibc's vector math for exp and tanh; and per
cell the loops over time of forward and full BPTT, which call BLAS's gemm for each
step's matmul: the gemm of the BLAS numpy loaded, found in this process at load
time (:class:`Gemm`), so nothing is linked at build time. Where it is not found
the cells loop in Python, each step's matmul through np.dot.
``python -m charrnn.core.kernels.build`` compiles it with the system C compiler
for the machine it runs on (``make demo`` and ``make test`` do); where there is
no compiler, or the build fails, nothing changes: the numpy cells run.

Which kernels run is a setting, ``Config.kernels``:

- ``auto``: the compiled kernels when they are built and load, numpy otherwise;
- ``numpy``: the numpy cells;
- ``compiled``: the compiled kernels, or a :class:`CharRNNError` saying how to build them.

The cells ask :func:`active` at each forward and step; :func:`using` sets the
choice for a block of code (the trainer wraps each step in it). Outside any
block the choice is the environment's ``CHARRNN_KERNELS``, else ``auto``; and
``CHARRNN_KERNELS=numpy`` makes ``auto`` mean numpy everywhere, training
included (how the whole suite runs on the numpy path where the kernels are built).
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import os
import platform
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...common.errors import CharRNNError

KERNELS = ("auto", "numpy", "compiled")
HERE = Path(__file__).resolve().parent
LIBRARY = HERE / "_fused.so"  # what the build writes
STAMP = HERE / "_fused.cpu"  # the CPU the library was built for
BUILD_COMMAND = "python -m charrnn.core.kernels.build"

_choice: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "charrnn_kernels", default=None
)


def cpu_fingerprint() -> str:
    """What the build's ``-march=native`` depends on: the machine and its CPU's feature flags.

    A library built on one CPU may use instructions another lacks, so it loads
    only where this string equals the one stored at build time.
    """
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = " ".join(sorted(line.split(":", 1)[1].split()))
                break
    except OSError:
        flags = platform.processor()
    return f"{platform.system()} {platform.machine()} {flags}"


@dataclass(frozen=True)
class Gemm:
    """numpy's own BLAS matrix products, for the loops over time that run in C."""

    sgemm: int  # the address of cblas_sgemm (float32)
    dgemm: int  # of cblas_dgemm (float64)
    ilp64: int  # 1: 64-bit integer sizes (numpy's wheels); 0: 32-bit
    path: str  # the library they come from


@dataclass(frozen=True)
class Fused:
    """The loaded library's functions, one set per dtype (float32, float64)."""

    lib: Any
    gemm: Gemm | None = None  # None: each step's matmul goes through numpy

    def fn(self, name: str, dtype: Any) -> Any:
        """The C function ``<name>_f32`` or ``<name>_f64`` for ``dtype``."""
        return getattr(self.lib, f"{name}_{'f32' if np.dtype(dtype) == np.float32 else 'f64'}")

    def seq(self, dtype: Any) -> tuple[int, int] | None:
        """The first two arguments of a ``*_seq`` loop over time: gemm's address, ilp64.

        ``None`` where numpy's BLAS was not found: the cells then loop in Python.
        """
        if self.gemm is None:
            return None
        g = self.gemm
        return (g.sgemm if np.dtype(dtype) == np.float32 else g.dgemm), g.ilp64


# Each C function's parameters in order: "n" a size or index (ssize_t), "p" an array's
# address, "f" a double; the same for its _f32 and _f64 versions.
SIGNATURES = {
    "rnn_forward": "nnppn",
    "gru_forward": "nnppppnpppn",
    "lstm_forward": "nnpppnpppnpn",
    "lstm_forward_cols": "nnppppnpppnpnp",
    "transpose": "nnpnp",
    "rnn_backward": "nnppp",
    "gru_backward": "nnpppppppp",
    "lstm_backward": "nnppppppp",
    "rnn_window": "nnnpnpp",
    "gru_window": "nnnpnpppppppp",
    "lstm_window": "nnnpnppppppp",
    "onehot_grad": "nnnppppp",
    "softmax_nll": "nnpppp",
    "adam": "nppppffff",
    "dropout": "nnnpnfppp",
    # The loops over time: gemm's address and integer width, T, B, H, then arrays.
    "rnn_forward_seq": "pnnnnppp",
    "rnn_backward_seq": "pnnnnpppp",
    "gru_forward_seq": "pnnnnppppppp",
    "gru_backward_seq": "pnnnnppppppppp",
    "lstm_forward_seq": "pnnnnppppppp",
    "lstm_forward_cols_seq": "pnnnnppppppppp",
    "lstm_backward_seq": "pnnnnpppppppp",
}
# The functions that return something: how many indices were out of range.
RETURNS = {"onehot_grad": ctypes.c_ssize_t, "softmax_nll": ctypes.c_ssize_t}
ARG_TYPES = {"n": ctypes.c_ssize_t, "p": ctypes.c_void_p, "f": ctypes.c_double}


def _declare(lib: Any) -> None:
    # Sizes and strides as ssize_t, arrays as addresses (ints), for every function. A
    # missing entry would let ctypes pass that argument as a 32-bit int: a truncated
    # address (tests/core/test_kernels.py checks this table against fused.c).
    for name, kinds in SIGNATURES.items():
        args = [ARG_TYPES[k] for k in kinds]
        for sfx in ("f32", "f64"):
            f = getattr(lib, f"{name}_{sfx}")
            f.argtypes = args
            f.restype = RETURNS.get(name)


# OpenBLAS's names for its build string and for CBLAS's gemm: numpy's wheels bundle it
# with a "scipy_" prefix, and with a "64_" suffix where it takes 64-bit sizes.
CONFIG_NAMES = {
    True: ("scipy_openblas_get_config64_", "openblas_get_config64_"),
    False: ("scipy_openblas_get_config", "openblas_get_config"),
}
GEMM_NAMES = {
    True: (("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_"), ("cblas_sgemm64_", "cblas_dgemm64_")),
    False: (("scipy_cblas_sgemm", "scipy_cblas_dgemm"), ("cblas_sgemm", "cblas_dgemm")),
}


def _numpy_openblas() -> tuple[str, bool] | None:
    """The OpenBLAS numpy was built with, as (version, 64-bit sizes), or ``None``.

    From numpy's own build record (numpy 1.26 and later); ``None`` for another
    BLAS (Accelerate, MKL, BLIS), whose gemm the loops over time do not call.
    """
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except (TypeError, KeyError):  # numpy before 1.26 has no such record
        return None
    config = str(blas.get("openblas configuration", ""))
    if "openblas" not in str(blas.get("name", "")).lower() or not blas.get("version"):
        return None
    return str(blas["version"]), "USE64BITINT" in config.split()


def _loaded_libraries(maps: str) -> list[str]:
    """The OpenBLAS libraries among a process's mappings (/proc/self/maps' text).

    numpy's own (in its package's folder) come first: another package may bundle
    an OpenBLAS of its own, with its own threads.
    """
    fields = (line.split(None, 5) for line in maps.splitlines())
    paths = {f[5].strip() for f in fields if len(f) == 6 and f[5].startswith("/")}
    found = [p for p in paths if "openblas" in Path(p).name.lower() and ".so" in Path(p).name]
    return sorted(found, key=lambda p: ("numpy" not in p, p))


def _gemm_works(fn: Any, dtype: Any, ilp64: bool) -> bool:
    # One small product through the function as the C loops call it, against numpy:
    # a last check of the symbols found (the integer width comes from the build string).
    n = ctypes.c_int64 if ilp64 else ctypes.c_int
    t = ctypes.c_float if np.dtype(dtype) == np.float32 else ctypes.c_double
    p = ctypes.c_void_p
    fn.argtypes = [ctypes.c_int] * 3 + [n] * 3 + [t, p, n, p, n, t, p, n]
    fn.restype = None
    a = np.arange(6, dtype=dtype).reshape(2, 3) - 2
    b = np.arange(12, dtype=dtype).reshape(3, 4) / 4
    c = np.full((2, 4), np.nan, dtype=dtype)
    fn(101, 111, 111, 2, 4, 3, 1.0, address(a), 3, address(b), 4, 0.0, address(c), 4)
    return bool(np.array_equal(c, a @ b))


def _gemm_in(path: str, version: str, ilp64: bool) -> Gemm | None:
    """The gemm of the library at ``path`` if it is the OpenBLAS build numpy reports."""
    try:
        blas = ctypes.CDLL(path)  # already loaded: the same library, not a second copy
    except OSError:
        return None
    for name in CONFIG_NAMES[ilp64]:  # a build of the other width lacks these names
        get_config = getattr(blas, name, None)
        if get_config is not None:
            get_config.restype = ctypes.c_char_p
            built = (get_config() or b"").decode(errors="replace").split()
            if version in built and ("USE64BITINT" in built) == ilp64:
                break
    else:
        return None
    for s_name, d_name in GEMM_NAMES[ilp64]:
        s_fn, d_fn = getattr(blas, s_name, None), getattr(blas, d_name, None)
        if s_fn is None or d_fn is None:
            continue
        if _gemm_works(s_fn, np.float32, ilp64) and _gemm_works(d_fn, np.float64, ilp64):
            adr = [ctypes.cast(f, ctypes.c_void_p).value or 0 for f in (s_fn, d_fn)]
            return Gemm(adr[0], adr[1], int(ilp64), path)
    return None


def _find_gemm() -> tuple[Gemm | None, str]:
    """numpy's own OpenBLAS gemm for the loops over time in C, or ``None`` and why not."""
    numpy_blas = _numpy_openblas()
    if numpy_blas is None:
        return None, "numpy's BLAS is not an OpenBLAS it names"
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None, "no /proc/self/maps to find numpy's OpenBLAS in"
    for path in _loaded_libraries(maps):
        gemm = _gemm_in(path, *numpy_blas)
        if gemm is not None:
            return gemm, f"with {Path(path).name}"
    return None, "numpy's OpenBLAS not found among the loaded libraries"


def _load() -> tuple[Fused | None, str]:
    if not LIBRARY.exists():
        return None, f"not built (run `{BUILD_COMMAND}`, or `make test`)"
    try:
        built_for = STAMP.read_text()
    except OSError:
        return None, f"built without a CPU record; rebuild with `{BUILD_COMMAND}`"
    if built_for != cpu_fingerprint():
        return None, f"built for another CPU; rebuild on this machine with `{BUILD_COMMAND}`"
    try:
        lib = ctypes.CDLL(str(LIBRARY))
        _declare(lib)
    except (OSError, AttributeError) as exc:
        return None, f"the built library does not load ({exc}); rebuild with `{BUILD_COMMAND}`"
    try:
        gemm, found = _find_gemm()
    except Exception as exc:  # an optional speed-up: whatever goes wrong, loop in Python
        gemm, found = None, f"looking for numpy's OpenBLAS failed: {exc!r}"
    loops = f"loops over time in C {found}" if gemm else f"loops over time in Python ({found})"
    return Fused(lib, gemm), f"{LIBRARY.name}, built for this CPU; {loops}"


_loaded: tuple[Fused | None, str] | None = None


def library() -> tuple[Fused | None, str]:
    """The compiled kernels (or ``None``) and why: loaded once per process."""
    global _loaded
    if _loaded is None:
        _loaded = _load()
    return _loaded


def reload() -> tuple[Fused | None, str]:
    """Forget what :func:`library` found and look again (after a build)."""
    global _loaded
    _loaded = None
    return library()


def check(kind: str) -> str:
    """Raise :class:`CharRNNError` if ``kind`` is unknown or asks for kernels that are not here."""
    if kind not in KERNELS:
        raise CharRNNError(
            f"kernels must be one of {', '.join(KERNELS)}; got {kind!r}", params=("kernels",)
        )
    if kind == "compiled":
        lib, why = library()
        if lib is None:
            raise CharRNNError(
                f"kernels is 'compiled' but the fused C library is {why}; "
                "or choose kernels 'auto' (numpy where it is not built)",
                params=("kernels",),
            )
    return kind


def default() -> str:
    """The choice outside any :func:`using` block: ``CHARRNN_KERNELS``, else ``auto``."""
    return os.environ.get("CHARRNN_KERNELS", "auto") or "auto"


@contextlib.contextmanager
def using(kind: str) -> Iterator[None]:
    """Run the block with ``kind`` (``auto``, ``numpy`` or ``compiled``) as the kernels' choice."""
    token = _choice.set(check(kind))
    try:
        yield
    finally:
        _choice.reset(token)


def choice() -> str:
    """The choice in force here: the innermost :func:`using`, else :func:`default`."""
    kind = _choice.get()
    return kind if kind is not None else default()


def active(xp: Any) -> Fused | None:
    """The compiled kernels if the choice in force takes them for arrays of ``xp``, else ``None``.

    Only numpy arrays on the host go through them (another backend runs its own cells).
    """
    if xp is not np:
        return None
    kind = choice()
    if kind == "numpy" or (kind == "auto" and default() == "numpy"):
        return None
    lib, _ = library()
    if lib is None and kind == "compiled":
        check(kind)  # raises, saying how to build them
    return lib


def describe() -> str:
    """One line: which kernels run under the choice in force, and why."""
    kind = choice()
    lib, why = library()
    if kind == "numpy" or (kind == "auto" and default() == "numpy"):
        return f"kernels: numpy (chosen by CHARRNN_KERNELS or kernels='numpy'; compiled: {why})"
    if lib is None:
        return f"kernels: numpy (the compiled kernels are {why})"
    return f"kernels: compiled ({why}; kernels={kind!r})"


def address(a: Any) -> int:
    """The address of an array's first element, for a C call."""
    return int(a.__array_interface__["data"][0])


def row_stride(a: Any) -> int | None:
    """A 2-D array's row stride in elements when its rows are contiguous, else ``None``."""
    if a.ndim != 2 or a.strides[1] != a.itemsize or a.strides[0] % a.itemsize:
        return None
    return int(a.strides[0] // a.itemsize)


def fits(dtype: Any, *arrays: Any) -> bool:
    """Whether the kernels take these arrays: float32 or float64 alike, C-contiguous."""
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        return False
    return all(a.dtype == dt and a.flags.c_contiguous for a in arrays)
