"""Build the compiled kernels for this machine: ``python -m charrnn.core.kernels.build``.

Compiles ``fused.c`` with the system C compiler (``$CC``, else ``cc``) into
``_fused.so`` beside it, for the CPU it runs on (``-march=native``), and
records that CPU (``_fused.cpu``): the library loads only on a CPU with the same
features, so a build never crashes another machine. Links glibc's vector math
(libmvec) where it is present, so exp and tanh run 8 or 16 lanes at a time.

Flags: ``-O3 -fopenmp-simd -fno-math-errno`` vectorise the loops and their
calls to exp and tanh; no ``-ffast-math``, which would let the compiler assume
no inf, while a saturated gate takes its limit through ``1 / (1 + inf) = 0``.

Each build is loaded before it replaces the library, and a build with
libmvec that links but does not load (a glibc whose libmvec lacks tanhf, before
2.35) gives way to the scalar one. Never fails loudly: with no compiler, or a
build that fails, it says so and exits with status 1, and charrnn runs its
numpy cells as before. ``--quiet`` prints nothing and always exits 0 (what
``make`` calls).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import subprocess
import sys
import time

from . import HERE, LIBRARY, STAMP, _declare, cpu_fingerprint, reload

FLAGS = ["-O3", "-fopenmp-simd", "-fno-math-errno", "-march=native", "-fPIC", "-shared"]


def build() -> tuple[bool, str]:
    """Compile the kernels; returns (built, what happened)."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return False, "no C compiler found (set CC): charrnn runs its numpy cells"
    source = HERE / "fused.c"
    tmp = LIBRARY.with_suffix(".so.tmp")
    start = time.perf_counter()
    errors = ""
    for libs in (["-lmvec", "-lm"], ["-lm"]):  # without libmvec: scalar exp and tanh
        extra = [] if "-lmvec" in libs else ["-DCHARRNN_NO_MVEC"]
        cmd = [cc, *FLAGS, *extra, str(source), "-o", str(tmp), *libs]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"the compiler did not run ({exc}): charrnn runs its numpy cells"
        if r.returncode == 0:
            try:  # a libmvec without every vector function links but does not load
                _declare(ctypes.CDLL(str(tmp)))
            except (OSError, AttributeError) as exc:
                errors = f"{' '.join(cmd)}: built, but does not load: {exc}"
                continue
            os.replace(tmp, LIBRARY)
            STAMP.write_text(cpu_fingerprint())
            lib, why = reload()
            took = time.perf_counter() - start
            if lib is None:
                return False, f"built, but the library does not load: {why}"
            vec = "with libmvec" if "-lmvec" in libs else "without libmvec (scalar exp, tanh)"
            return True, f"built {LIBRARY} {vec} in {took:.1f} s: {' '.join(cmd)}"
        errors = r.stderr.strip()
    tmp.unlink(missing_ok=True)
    return False, f"the build failed, charrnn runs its numpy cells:\n{errors}"


def main(argv: list[str] | None = None) -> int:
    """Build, print what happened; exit 0 when built (always with ``--quiet``)."""
    p = argparse.ArgumentParser(prog="python -m charrnn.core.kernels.build", description=__doc__)
    p.add_argument("--quiet", action="store_true", help="print nothing, exit 0 even on failure")
    args = p.parse_args(argv)
    try:
        ok, msg = build()
    except OSError as exc:  # e.g. a read-only install folder
        ok, msg = False, f"could not write the library ({exc}): charrnn runs its numpy cells"
    if not args.quiet:
        print(msg, file=sys.stdout if ok else sys.stderr)
    return 0 if ok or args.quiet else 1


if __name__ == "__main__":
    sys.exit(main())
