"""Writing a model out: every file's bytes made whole in memory, then each written atomically.

So a failure while building (a missing package, a cell no format can hold) writes
nothing, and a failure while writing leaves no half of a file.
"""

from __future__ import annotations

import os

from ..api import CharRNN
from ..common.errors import CharRNNError
from ..common.files import write_atomic
from ..common.optional import require
from .layout import metadata, metadata_strings, torch_state
from .safetensors_file import safetensors_bytes

FORMATS = ("onnx", "torch", "safetensors")


def scorer_path(path: str | os.PathLike[str]) -> str:
    """Where the word scorer goes beside the step graph: ``names.onnx`` -> ``names.scorer.onnx``."""
    root, ext = os.path.splitext(os.fspath(path))
    return f"{root}.scorer{ext or '.onnx'}"


def export_files(model: CharRNN, path: str | os.PathLike[str], to: str) -> dict[str, bytes]:
    """The files an export writes, by path, as bytes; nothing is written.

    Parameters
    ----------
    model : CharRNN
        A trained (or loaded) model.
    path : str or path
        The file to write; a words-mode model's ONNX export also writes its word
        scorer at :func:`scorer_path`.
    to : {"onnx", "torch", "safetensors"}

    Raises
    ------
    CharRNNError
        For an unknown format, a model not trained, a cell no format holds, or a
        missing package (with what to install).
    """
    if to not in FORMATS:
        raise CharRNNError(f"cannot export to {to!r}: choose one of {', '.join(FORMATS)}")
    if not hasattr(model, "params_"):
        raise CharRNNError("this model is not trained yet: call fit() or CharRNN.load()")
    config, vocab, params = model.config_, model.vocab_, model.params_
    if config.units == "jamo3":
        raise CharRNNError(
            "jamo3 models cannot be exported yet: their factored output head has no "
            "torch.nn or ONNX twin here; export a char or jamo model",
            params=("units",),
        )
    meta = metadata(config, vocab, params)
    path = os.fspath(path)
    if to == "safetensors":
        return {path: safetensors_bytes(torch_state(params, config.cell), metadata_strings(meta))}
    if to == "torch":
        from .pytorch import torch_bytes

        return {path: torch_bytes(torch_state(params, config.cell), meta)}
    require("onnx", what="exporting to ONNX", extra="export")
    from .onnx_graphs import step_model, word_scorer

    files = {path: step_model(params, meta).SerializeToString()}
    if config.mode == "words":
        files[scorer_path(path)] = word_scorer(params, meta).SerializeToString()
    return files


def export_model(model: CharRNN, path: str | os.PathLike[str], to: str) -> list[str]:
    """Write ``model`` for ONNX Runtime, PyTorch or safetensors; return the paths written.

    See :func:`export_files` for the arguments; ``docs/export.md`` for the files.
    Each file is written whole or not at all, and only once every file is built.

    Examples
    --------
    >>> from charrnn import CharRNN
    >>> from charrnn.export import export_model
    >>> model = CharRNN(hidden=16, steps=5).fit(["anna", "emma"])
    >>> export_model(model, "names.safetensors", "safetensors")  # doctest: +SKIP
    ['names.safetensors']
    """
    files = export_files(model, path, to)
    for out in files:
        folder = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(folder):
            raise CharRNNError(f"the folder of {out} does not exist; create it first")
        if os.path.isdir(out):
            raise CharRNNError(f"{out} is a folder; give the file to write, e.g. {out}/model")
    for out, data in files.items():
        try:
            write_atomic(out, data)
        except OSError as exc:
            raise CharRNNError(f"cannot write {out}: {exc.strerror or exc}") from None
    return list(files)
