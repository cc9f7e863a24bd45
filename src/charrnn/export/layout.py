"""A model's weights in ``torch.nn``'s layout, and what an app needs besides them.

Every exported file names the weights as a ``torch.nn.RNN`` / ``GRU`` / ``LSTM`` (``rnn.``)
with a ``torch.nn.Linear`` head (``head.``) name them, reading one-hot inputs::

    rnn.weight_ih_l{k}  (G, n_in)   our input weight (Wxh, Wxrzn, Wxifgo of layer k+1)
    rnn.weight_hh_l{k}  (G, H)      our recurrent weight
    rnn.bias_ih_l{k}    (G,)        our bias
    rnn.bias_hh_l{k}    (G,)        zero, but the GRU's candidate block: bhn
    head.weight         (V, H)      Why
    head.bias           (V,)        by

G is ``gates * H``, the gates stacked in torch's order (ours already: r, z, n for the GRU;
i, f, g, o for the LSTM). torch keeps an input and a recurrent bias per gate where only
their sum matters, so ours goes in the input one; the GRU's candidate keeps its recurrent
bias apart (it sits inside ``r * (W_hn h + b_hn)``), which is ``bhn`` here. The tests
check the mapping against torch itself (``tests/core/test_torch_oracle.py``).

Pure functions over arrays: no files.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..common.errors import CharRNNError
from ..common.version import __version__
from ..core.cells import GRUCell, get_cell
from ..core.config import Config
from ..core.model import Params, hidden_size, num_layers
from ..core.vocab import Vocab

FORMAT = "charrnn-export"
VERSION = 1


def torch_module(cell_name: str) -> str:
    """The ``torch.nn`` module that computes ``cell_name``'s recurrence: RNN, GRU or LSTM.

    Raises
    ------
    CharRNNError
        For a cell with no ``torch.nn`` twin.
    """
    kind = getattr(get_cell(cell_name), "torch_module", None)
    if kind is None:
        raise CharRNNError(
            f"the {cell_name} cell has no torch.nn twin, so it cannot be exported; "
            "export a model of the rnn, gru or lstm cell"
        )
    return str(kind)


def torch_state(params: Params, cell_name: str) -> dict[str, np.ndarray]:
    """``params`` as the state dict of torch's recurrent module (``rnn.``) and head (``head.``).

    The arrays keep the parameters' dtype and are new (C-contiguous) arrays.

    Parameters
    ----------
    params : dict
        The model's parameters.
    cell_name : str
        ``Config.cell``.

    Returns
    -------
    dict of str to numpy.ndarray
        In the order torch's ``state_dict()`` lists them.
    """
    torch_module(cell_name)  # refuses a cell torch cannot run
    cell = get_cell(cell_name)
    L, H = num_layers(params, cell), hidden_size(params)
    out: dict[str, np.ndarray] = {}
    for l in range(L):
        n = cell.names(l)
        bias = np.ascontiguousarray(params[n.bias])  # (G,)
        recurrent_bias = np.zeros_like(bias)  # (G,)
        if isinstance(cell, GRUCell):
            recurrent_bias[2 * H :] = params[cell.candidate_bias(l)]  # b_hn, inside r * (.)
        out[f"rnn.weight_ih_l{l}"] = np.ascontiguousarray(params[n.input])
        out[f"rnn.weight_hh_l{l}"] = np.ascontiguousarray(params[n.recurrent])
        out[f"rnn.bias_ih_l{l}"] = bias.copy()
        out[f"rnn.bias_hh_l{l}"] = recurrent_bias
    out["head.weight"] = np.ascontiguousarray(params["Why"])
    out["head.bias"] = np.ascontiguousarray(params["by"])
    return out


def metadata(config: Config, vocab: Vocab, params: Params) -> dict[str, Any]:
    """What an app needs beside the weights: the vocabulary, the units, the shapes, the config.

    Returns
    -------
    dict
        JSON-ready: ``format``, ``version``, ``charrnn`` (the version that wrote it),
        ``cell``, ``torch_module``, ``layers``, ``hidden``, ``state_size`` (S: H, or
        2H for the LSTM's ``[h | c]``), ``mode``, ``vocab`` (symbols in id order),
        ``boundary_id``, ``units`` (``{"kind", "normalize"}``) and ``config``.
    """
    cell = get_cell(config.cell)
    H = hidden_size(params)
    return {
        "format": FORMAT,
        "version": VERSION,
        "charrnn": __version__,
        "cell": config.cell,
        "torch_module": torch_module(config.cell),
        "layers": num_layers(params, cell),
        "hidden": H,
        "state_size": cell.state_shape(1, H)[1],
        "mode": config.mode,
        "vocab": list(vocab.itos),
        "boundary_id": vocab.boundary_id,
        "units": {"kind": vocab.units.kind, "normalize": vocab.units.normalize},
        "config": config.to_dict(),
    }


def metadata_strings(meta: dict[str, Any]) -> dict[str, str]:
    """:func:`metadata` as string pairs, for formats whose metadata holds strings only.

    Strings stay as they are; everything else (lists, numbers, objects) becomes JSON.
    """
    return {
        k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in meta.items()
    }
