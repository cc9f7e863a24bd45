"""Regenerate src/charrnn/corpora/names.txt from the Faker package (MIT licence).

Run once by a maintainer (``pip install faker && python scripts/make_names_corpus.py``);
the result is committed, so users need neither Faker nor a download.
Takes Faker's English first names (female and male), lower-cases them, keeps
letters-only names, drops duplicates and sorts them.
"""

from __future__ import annotations

import pathlib

from faker.providers.person.en import Provider

OUT = pathlib.Path(__file__).resolve().parent.parent / "src/charrnn/corpora/names.txt"


def main() -> None:
    names = {n.lower() for n in (*Provider.first_names_female, *Provider.first_names_male)}
    names = sorted(n for n in names if n.isalpha() and n.isascii())
    OUT.write_text("\n".join(names) + "\n", encoding="utf-8")
    print(f"wrote {len(names)} names to {OUT}")


if __name__ == "__main__":
    main()
