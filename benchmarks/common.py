"""Shared pieces of the benchmarks: corpora, BLAS report, timing rounds."""

from __future__ import annotations

import os
import pathlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

SHARED = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def shakespeare_or_fallback() -> tuple[str, str]:
    """tinyshakespeare from ../shared/data, or the built-in names as running text."""
    path = SHARED / "tinyshakespeare.txt"
    if path.is_file():
        return path.read_text(encoding="utf-8"), "tinyshakespeare.txt"
    from charrnn.data.files import read_text

    return read_text("@names") * 20, "@names repeated (../shared/data absent)"


def names_source() -> str:
    path = SHARED / "names.txt"
    return str(path) if path.is_file() else "@names"


def blas_report() -> str:
    """The BLAS library, kernel and threads numpy uses (and a warning about slow settings)."""
    lines = []
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            lines.append(
                f"warning: {var}={os.environ[var]} is set and slows numpy; "
                f"rerun with `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ...`"
            )
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "\n".join([*lines, "BLAS: (install threadpoolctl to see the kernel)"])
    for info in threadpool_info():
        if info["user_api"] == "blas":
            lines.append(
                f"BLAS: {info['internal_api']} {info.get('version')} kernel "
                f"{info.get('architecture')} threads {info['num_threads']} ({info['prefix']})"
            )
    return "\n".join(lines)


@dataclass(frozen=True)
class SelfTimed:
    """What an engine returns instead of a character count when it timed itself
    (e.g. one that trains in a fresh process and reads the rate from its log)."""

    chars_per_s: float


def step_time(run: Callable[[int], int | SelfTimed]) -> float:
    """Seconds per step of ``run`` after a warm-up call (allocations, BLAS thread start)."""
    run(2)
    t0 = time.perf_counter()
    run(3)
    return (time.perf_counter() - t0) / 3


def rounds(
    engines: dict[str, Callable[[int], int | SelfTimed]],
    seconds: float,
    repeats: int,
    fixed: dict[str, int] | None = None,
) -> dict[str, list[float]]:
    """Time every engine in turn, ``repeats`` times, alternating (noise hits all alike).

    Each engine is a function ``run(steps) -> characters processed``. A warm-up
    call sizes the number of steps so that one measurement lasts about ``seconds``.
    Engines named in ``fixed`` run that many steps per measurement with no warm-up
    or sizing call: one that starts a fresh process would spend both on start-up.
    An engine that returns :class:`SelfTimed` gives its own rate.
    """
    fixed = fixed or {}
    steps = {
        name: fixed[name] if name in fixed else max(3, int(seconds / max(step_time(run), 1e-6)))
        for name, run in engines.items()
    }
    rates: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(repeats):
        for name, run in engines.items():
            t0 = time.perf_counter()
            done = run(steps[name])
            elapsed = time.perf_counter() - t0
            rate = done.chars_per_s if isinstance(done, SelfTimed) else done / elapsed
            rates[name].append(rate)
    return rates


def paired(rates: dict[str, list[float]], a: str, b: str) -> float:
    """Median over rounds of the ratio a/b within each round: a slow spell of the
    machine hits both engines of a round alike and cancels out."""
    return statistics.median(x / y for x, y in zip(rates[a], rates[b], strict=True))


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):>10,.0f} [{min(values):,.0f}-{max(values):,.0f}]"


def out(line: str = "") -> None:
    print(line, flush=True)
