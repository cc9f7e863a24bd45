"""Training on a large text in bounded memory: peak RSS and wall time of `charrnn train`.

Writes a generated text corpus of --mb megabytes as --files files in a folder
(tinyshakespeare from ../shared/data repeated, or the built-in names), then
trains a text-mode model on the folder for --steps steps in a fresh process,
twice: on a small corpus and on the large one. For each it reports the peak
resident memory of the training process (``resource.getrusage(RUSAGE_CHILDREN)
.ru_maxrss``, read by a wrapper process that runs nothing else), the time until
training starts (both streaming passes over the text: scan, then encode into the
memory-mapped token file) and the whole wall time. Everything it wrote is
deleted at the end (the corpus and the run, token file included), unless --keep.

    python benchmarks/bench_big_data.py [--mb 1000] [--files 8] [--steps 100] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

from common import out, shakespeare_or_fallback

# Runs the command given after the result file, then writes its children's peak RSS (KiB) there.
_WRAPPER = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.call(sys.argv[2:])\n"
    "with open(sys.argv[1], 'w') as f:\n"
    "    f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(rc)\n"
)


def write_corpus(folder: pathlib.Path, total_bytes: int, files: int) -> int:
    """``files`` files of about ``total_bytes / files`` bytes each; returns the bytes written."""
    text, _ = shakespeare_or_fallback()
    block = (text * max(1, (1 << 22) // len(text) + 1)).encode("utf-8")  # >= 4 MiB per write
    folder.mkdir(parents=True)
    written = 0
    for i in range(files):
        share = total_bytes // files
        with open(folder / f"part-{i:03d}.txt", "wb") as f:
            done = 0
            while done < share:
                piece = block[: share - done]
                f.write(piece)
                done += len(piece)
        written += done
    return written


def train(data: pathlib.Path, run: pathlib.Path, steps: int, rss_file: str) -> tuple[float, float]:
    """Train on ``data``; returns (seconds until training started, whole wall seconds)."""
    cmd = [
        sys.executable,
        "-c",
        _WRAPPER,
        rss_file,
        sys.executable,
        "-m",
        "charrnn",
        "train",
        str(data),
        "--out",
        str(run),
        "--mode",
        "text",
        "--steps",
        str(steps),
        "--val-max",
        "100000",  # a held-out tail of 100,000 characters, not a tenth of the corpus
        "--log-every",
        str(steps),
    ]
    t0 = time.perf_counter()
    started = None
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as p:
        assert p.stderr is not None
        for line in p.stderr:
            if started is None and line.startswith("training a "):
                started = time.perf_counter() - t0
            sys.stderr.write("  | " + line)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"charrnn train exited {p.returncode}")
    return (started if started is not None else wall), wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=1000.0, help="size of the large corpus (MB)")
    ap.add_argument("--small-mb", type=float, default=1.0, help="size of the small corpus (MB)")
    ap.add_argument("--files", type=int, default=8, help="files the corpus is split into")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--dir", default=tempfile.gettempdir(), help="where to write (needs 2x --mb)")
    ap.add_argument("--keep", action="store_true", help="keep the corpus and the runs")
    args = ap.parse_args()
    root = pathlib.Path(tempfile.mkdtemp(prefix="charrnn-big-", dir=args.dir))
    try:
        rows = []
        for name, mb in (("small", args.small_mb), ("large", args.mb)):
            t0 = time.perf_counter()
            size = write_corpus(root / name, int(mb * 1e6), args.files)
            took = time.perf_counter() - t0
            out(f"{name}: wrote {size / 1e6:,.0f} MB in {args.files} files ({took:.0f} s)")
            rss_file = str(root / f"{name}.rss")
            setup, wall = train(root / name, root / f"run-{name}", args.steps, rss_file)
            rss_mb = int(pathlib.Path(rss_file).read_text()) / 1024  # ru_maxrss is in KiB on Linux
            tokens = sum(f.stat().st_size for f in (root / f"run-{name}").glob("tokens-*.bin"))
            rows.append((name, size, rss_mb, setup, wall, tokens))
        out(f"\n{args.steps} training steps (H=128, B=32, T=64) on a text corpus in a folder:")
        heads = ("corpus", "MB", "token file MB", "peak RSS MB", "setup s", "wall s")
        out(" ".join(f"{h:>{w}}" for h, w in zip(heads, (8, 8, 14, 12, 8, 8), strict=True)))
        for name, size, rss_mb, setup, wall, tokens in rows:
            out(
                f"{name:>8} {size / 1e6:>8,.0f} {tokens / 1e6:>14,.0f} {rss_mb:>12,.0f} "
                f"{setup:>8.1f} {wall:>8.1f}"
            )
        small, large = rows[0], rows[1]
        more_mb = (large[1] - small[1]) / 1e6
        out(
            f"peak RSS grows {large[2] - small[2]:+,.0f} MB for {more_mb:,.0f} MB more text; "
            f"the setup (scan + encode) takes {large[3] - small[3]:,.1f} s more: "
            f"{more_mb / max(large[3] - small[3], 1e-9):,.1f} MB/s"
        )
    finally:
        if args.keep:
            out(f"kept {root}")
        else:
            import shutil

            shutil.rmtree(root, ignore_errors=True)
            out(f"deleted {root}" if not os.path.exists(root) else f"could not delete {root}")


if __name__ == "__main__":
    main()
