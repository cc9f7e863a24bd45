"""The models shipped with the package, named ``@name`` wherever a command takes a model.

They are model-only checkpoints (parameters, vocabulary, config and the run's
state; no optimiser state) in the ``models/`` folder beside this module, written
by ``scripts/train_pretrained.py`` (docs/corpora.md says how each was trained).
``@`` means a shipped model where a model is read (``charrnn sample @names``,
``CharRNN.load("@names")``) and a built-in corpus where data is read
(``charrnn train @names``); a file whose name starts with ``@`` is reached as
``./@name``.
"""

from __future__ import annotations

import os
from importlib import resources
from typing import TYPE_CHECKING

from ..common.errors import CharRNNError
from ..data.sources import builtin_names

if TYPE_CHECKING:
    from importlib.abc import Traversable

PREFIX = "@"
SUFFIX = ".npz"


def _folder() -> Traversable:
    return resources.files("charrnn.training") / "models"


def pretrained_names() -> list[str]:
    """Names of the shipped models (without the ``@``), sorted."""
    folder = _folder()
    if not folder.is_dir():  # an install that left the package data out
        return []
    return sorted(p.name[: -len(SUFFIX)] for p in folder.iterdir() if p.name.endswith(SUFFIX))


def is_pretrained_ref(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is written ``@name``: a shipped model, never a file."""
    return isinstance(path, str) and path.startswith(PREFIX)


def pretrained_path(ref: str) -> str:
    """The checkpoint file of the shipped model ``@name`` (``ref`` with or without the ``@``).

    Raises
    ------
    CharRNNError
        If no shipped model has that name; the message lists the ones there are.
    """
    name = ref.removeprefix(PREFIX)
    names = pretrained_names()
    if name not in names:
        shown = ", ".join(PREFIX + n for n in names) or "none (this install lacks them)"
        hint = ""
        if name in builtin_names():
            hint = (
                f"; {PREFIX}{name} is a built-in corpus, which is data: train a model on it "
                f"with charrnn train {PREFIX}{name} --out RUN"
            )
        raise CharRNNError(
            f"no pretrained model {PREFIX}{name}; the pretrained models are {shown}{hint} "
            f"(a file whose name starts with {PREFIX} is ./{PREFIX}{name})"
        )
    # Installed from a wheel or a source tree, the package is a folder on disk, so the
    # resource is a real file that the checkpoint reader can open by name.
    return str(_folder() / f"{name}{SUFFIX}")
