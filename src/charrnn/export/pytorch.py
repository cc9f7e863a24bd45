"""PyTorch: the state dict file, and the ``torch.nn`` model that reads it.

The file is ``torch.save`` of a dict of a tensor dict and one string, so
``torch.load(path, weights_only=True)`` reads it without unpickling any object::

    {"state_dict": {"rnn.weight_ih_l0": tensor, ..., "head.bias": tensor},
     "metadata": "<JSON: vocabulary, units, cell, layers, hidden, mode, config>"}

The state dict is that of :func:`torch_model`'s module: a ``torch.nn.RNN`` (tanh),
``GRU`` or ``LSTM`` as ``rnn`` over one-hot symbols, and a ``torch.nn.Linear`` head
as ``head`` (the names and the bias convention: :mod:`charrnn.export.layout`).
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import numpy as np

from ..common.optional import require


def _torch(what: str) -> Any:
    return require("torch", what=what)  # "pip install torch": the build for the machine


def torch_bytes(state: dict[str, np.ndarray], meta: dict[str, Any]) -> bytes:
    """The file's bytes: ``torch.save`` of the state dict and the metadata's JSON."""
    torch = _torch("charrnn export --to torch")
    saved = {
        "state_dict": {k: torch.from_numpy(np.array(v)) for k, v in state.items()},
        "metadata": json.dumps(meta, ensure_ascii=False),
    }
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    return buffer.getvalue()


def torch_model(path: str | os.PathLike[str], *, dtype: Any = None) -> tuple[Any, dict[str, Any]]:
    """The exported model as a ``torch.nn.Module``, and its metadata.

    The module's ``forward(tokens, state=None)`` takes ids (T, B) and torch's state
    (``h`` (L, B, H), or ``(h, c)`` for the LSTM; ``None`` is zeros) and returns the
    logits (T, B, V) and the new state; ``log_softmax`` of the logits are charrnn's
    log-probabilities. A words-mode model reads ``'\\n' + word`` and predicts
    ``word + '\\n'``. Its parameters train like any module's.

    Parameters
    ----------
    path : str or path
        A file ``charrnn export --to torch`` wrote.
    dtype : torch.dtype, optional
        Convert the parameters (``torch.float64``); default: as saved.

    Returns
    -------
    model : torch.nn.Module
    metadata : dict
        The vocabulary (``vocab``, symbols in id order), ``units``, ``boundary_id``,
        ``cell``, ``layers``, ``hidden``, ``mode`` and the training ``config``.
    """
    torch = _torch("loading an exported model into PyTorch")
    saved = torch.load(os.fspath(path), weights_only=True)
    meta = json.loads(saved["metadata"])
    nn = torch.nn
    kind, V, H, L = meta["torch_module"], len(meta["vocab"]), meta["hidden"], meta["layers"]

    module: Any = nn.Module  # torch is imported here, so its classes are Any to the checker

    class CharModel(module):  # type: ignore[misc]
        """``torch.nn.{RNN, GRU, LSTM}`` over one-hot symbols, and a linear head."""

        def __init__(self) -> None:
            super().__init__()
            extra = {"nonlinearity": "tanh"} if kind == "RNN" else {}
            self.rnn = getattr(nn, kind)(V, H, num_layers=L, **extra)
            self.head = nn.Linear(H, V)

        def forward(self, tokens: Any, state: Any = None) -> tuple[Any, Any]:
            x = nn.functional.one_hot(tokens, V).to(self.head.weight.dtype)  # (T, B, V)
            out, state = self.rnn(x, state)  # (T, B, H)
            return self.head(out), state

    model = CharModel()
    # In the saved dtype (load_state_dict would copy into float32 parameters), or as asked.
    model.to(dtype if dtype is not None else saved["state_dict"]["head.weight"].dtype)
    model.load_state_dict(saved["state_dict"])
    return model, meta
