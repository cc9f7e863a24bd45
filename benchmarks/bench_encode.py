"""Encoding speed of a large text into a memory-mapped token file.

Builds a ~100 MB text from tinyshakespeare (or the built-in names) repeated,
then times the two streaming passes charrnn makes over a text-mode corpus
(scan: characters and digest; encode: ids to a uint8/uint16 file) and reports
MB/s and the peak memory they took (tracemalloc), beside the file size.

    python benchmarks/bench_encode.py [--mb 100]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc

from charrnn import Vocab
from charrnn.data.textcache import encode_to_file, scan_text
from common import out, shakespeare_or_fallback


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=100.0)
    args = ap.parse_args()
    text, name = shakespeare_or_fallback()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "big.txt")
        target = int(args.mb * 1e6)
        with open(path, "w", encoding="utf-8") as f:
            written = 0
            while written < target:
                f.write(text)
                written += len(text.encode("utf-8"))
        size = os.path.getsize(path) / 1e6
        out(f"{size:.0f} MB of {name} repeated")
        tracemalloc.start()
        t0 = time.perf_counter()
        scan = scan_text(path)
        t1 = time.perf_counter()
        vocab = Vocab(scan.chars)
        encode_to_file(path, vocab, path + ".bin")
        t2 = time.perf_counter()
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        out(f"scan   {size / (t1 - t0):6.1f} MB/s")
        out(
            f"encode {size / (t2 - t1):6.1f} MB/s  ({os.path.getsize(path + '.bin') / 1e6:.0f} MB "
            f"of {vocab.size}-symbol ids)"
        )
        out(f"peak traced memory of both passes: {peak:.1f} MB for a {size:.0f} MB text")


if __name__ == "__main__":
    main()
