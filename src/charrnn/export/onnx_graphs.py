"""ONNX graphs of a model: one step, and for words mode a whole-word scorer.

Built with the ``onnx`` package's helpers (no torch), in float32, opset 17, and checked
with ``onnx.checker`` (shape inference included) before they leave. Shapes: B batch
(free), L layers, S one layer's state (H, or 2H for the LSTM's ``[h | c]``), V vocabulary.

**The step graph** reads one symbol per sequence and carries the state::

    inputs   token      int64   (B,)       the symbol each sequence reads
             state      float32 (L, B, S)  zeros for a fresh sequence
    outputs  logprobs   float32 (B, V)     log p(next symbol)
             new_state  float32 (L, B, S)  the state after reading ``token``

The state of every layer is one tensor, stacked as charrnn stacks it, so an app carries
one array from step to step and starts from ``np.zeros``.

**The word scorer** (words-mode models) gives the log-probability of whole sequences::

    inputs   tokens           int64   (T, B)    '\\n' + word + '\\n', padded at the end
             lengths          int64   (B,)      symbols of each sequence, both '\\n' counted
    outputs  logprob          float64 (B,)      log p(word), its closing '\\n' included
             token_logprobs   float64 (T-1, B)  log p of each symbol read after the first
                                                (0 past a sequence's end)

It runs the step's equations under a ``Scan`` over time, which keeps one graph for
every length: unrolling would fix a longest word when the file is written and copy
the step's nodes once per position (their count grows with that length, the weights
are shared either way), and a ``Loop`` would have to index the sequence itself where
``Scan`` hands each step its slice. Padding is read like any symbol but masked out of
the sum, as ``charrnn score`` masks it.

What the graphs hold besides the weights is in the model's ``metadata_props``
(:func:`charrnn.export.layout.metadata`, every value a string, JSON where not a
string): the vocabulary, the units, the config, and which graph this is (``graph``:
``step`` or ``word-scorer``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..common.errors import CharRNNError
from ..common.version import __version__
from ..core.cells import GRUCell, get_cell
from ..core.model import Params, hidden_size, num_layers
from .layout import metadata_strings, torch_module

OPSET = 17
IR_VERSION = 8  # the IR of opset 17 (onnx 1.12): runtimes from then on read the file
FLOAT = TensorProto.FLOAT
INT64 = TensorProto.INT64
DOUBLE = TensorProto.DOUBLE


class _Builder:
    """Nodes and weights being collected, each node output under a fresh name."""

    def __init__(self, prefix: str = "") -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []
        self._names: set[str] = set()
        self._prefix = prefix  # a subgraph's names must differ from its graph's
        self._count = 0

    def weight(self, name: str, array: np.ndarray, *, keep: bool = False) -> str:
        """A constant of the graph, added once; returns its name.

        Float arrays become float32 (the graph's type) unless ``keep``.
        """
        if name not in self._names:
            if np.issubdtype(array.dtype, np.floating) and not keep:
                array = array.astype(np.float32)
            # np.array, not ascontiguousarray, which would make a scalar 1-D.
            self.weights.append(numpy_helper.from_array(np.array(array, order="C"), name))
            self._names.add(name)
        return name

    def ints(self, name: str, values: list[int] | int) -> str:
        """An int64 constant: a list is a 1-D tensor, an int a scalar."""
        return self.weight(name, np.array(values, dtype=np.int64))

    def op(self, op_type: str, inputs: list[str], outputs: int = 1, **attrs: Any) -> Any:
        """Add one node; returns its output's name, or a list of names for several."""
        self._count += 1
        names = [f"{self._prefix}{op_type.lower()}_{self._count}_{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, names, **attrs))
        return names[0] if outputs == 1 else names


class _Weights:
    """The float32 constants of the model, in the orientation the graphs multiply by."""

    def __init__(self, b: _Builder, params: Params, cell_name: str):
        self.b = b  # holds the constants; a Scan's body reads them from the outer graph
        cell = get_cell(cell_name)
        self.kind = torch_module(cell_name)  # RNN, GRU or LSTM; refuses other cells
        self.L, self.H = num_layers(params, cell), hidden_size(params)
        self.layers: list[dict[str, str]] = []
        for l in range(self.L):
            n = cell.names(l)
            W, bias = params[n.input], params[n.bias]
            w: dict[str, str] = {}
            if l == 0:
                # Wx onehot(x) + b is row x of (Wx^T + b): a gather, as the engine does it.
                w["table"] = b.weight(f"{n.input}_table", W.T + bias)  # (V, G)
            else:
                w["WxT"] = b.weight(f"{n.input}_T", W.T)  # (H, G)
                w["b"] = b.weight(n.bias, bias)  # (G,)
            w["WhT"] = b.weight(f"{n.recurrent}_T", params[n.recurrent].T)  # (H, G)
            if isinstance(cell, GRUCell):
                bhn = cell.candidate_bias(l)
                w["bhn"] = b.weight(bhn, params[bhn])  # (H,)
            w["index"] = b.ints(f"layer_{l}", l)
            self.layers.append(w)
        self.WhyT = b.weight("Why_T", params["Why"].T)  # (H, V)
        self.by = b.weight("by", params["by"])  # (V,)

    def split(self, parts: int) -> str:
        """The sizes that split a (B, parts * H) array into its H-wide blocks."""
        return self.b.ints(f"split_{parts}h", [self.H] * parts)

    def axis(self, k: int) -> str:
        """``[k]``: the axes of an Unsqueeze, Squeeze, Slice or ReduceSum."""
        return self.b.ints(f"axis_{k}", [k])


def _cell_step(b: _Builder, w: _Weights, l: int, pre: str, state: str) -> tuple[str, str]:
    """One layer's step from its input projection ``pre`` (B, G) and state (B, S).

    Returns the new state (B, S) and the output the next layer reads (B, H); the
    equations are the cells' (``charrnn.core.cells``), tagged as there, in torch's gate
    order.
    """
    lw = w.layers[l]
    if w.kind == "RNN":
        h = b.op("Tanh", [b.op("Add", [pre, b.op("MatMul", [state, lw["WhT"]])])])  # (T1)
        return h, h
    if w.kind == "GRU":
        gh = b.op("MatMul", [state, lw["WhT"]])  # (B, 3H)
        pr, pz, pn = b.op("Split", [pre, w.split(3)], 3, axis=1)
        gr, gz, gn = b.op("Split", [gh, w.split(3)], 3, axis=1)
        r = b.op("Sigmoid", [b.op("Add", [pr, gr])])  # (F1)
        z = b.op("Sigmoid", [b.op("Add", [pz, gz])])  # (F2)
        hn = b.op("Add", [gn, lw["bhn"]])  # (F3)
        n = b.op("Tanh", [b.op("Add", [pn, b.op("Mul", [r, hn])])])  # (F4)
        h = b.op("Add", [n, b.op("Mul", [z, b.op("Sub", [state, n])])])  # (F5) n + z (h - n)
        return h, h
    # LSTM: the state is [h | c]
    h_prev, c_prev = b.op("Split", [state, w.split(2)], 2, axis=1)
    a = b.op("Add", [pre, b.op("MatMul", [h_prev, lw["WhT"]])])  # (B, 4H)
    ai, af, ag, ao = b.op("Split", [a, w.split(4)], 4, axis=1)
    i, f, o = (b.op("Sigmoid", [x]) for x in (ai, af, ao))  # (F1)
    g = b.op("Tanh", [ag])  # (F1)
    c = b.op("Add", [b.op("Mul", [f, c_prev]), b.op("Mul", [i, g])])  # (F2)
    h = b.op("Mul", [o, b.op("Tanh", [c])])  # (F3)
    return b.op("Concat", [h, c], axis=1), h


def _step(b: _Builder, w: _Weights, token: str, state: str) -> tuple[str, str]:
    """The whole step: ``token`` (B,) and ``state`` (L, B, S) -> log-probs (B, V), new state."""
    below = ""
    new_states = []
    for l, lw in enumerate(w.layers):
        s = b.op("Gather", [state, lw["index"]], axis=0)  # (B, S)
        if l == 0:
            pre = b.op("Gather", [lw["table"], token], axis=0)  # (B, G)
        else:
            pre = b.op("Add", [b.op("MatMul", [below, lw["WxT"]]), lw["b"]])
        new, below = _cell_step(b, w, l, pre, s)
        new_states.append(b.op("Unsqueeze", [new, w.axis(0)]))  # (1, B, S)
    new_state = b.op("Concat", new_states, axis=0) if w.L > 1 else new_states[0]
    logits = b.op("Add", [b.op("MatMul", [below, w.WhyT]), w.by])  # (B, V)
    return b.op("LogSoftmax", [logits], axis=-1), new_state


def _model(graph: onnx.GraphProto, meta: dict[str, Any], kind: str) -> onnx.ModelProto:
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="charrnn",
        producer_version=__version__,
        ir_version=IR_VERSION,
    )
    helper.set_model_props(model, {**metadata_strings(meta), "graph": kind})
    onnx.checker.check_model(model, full_check=True)
    return model


def step_model(params: Params, meta: dict[str, Any]) -> onnx.ModelProto:
    """The step graph of the module notes, checked.

    Parameters
    ----------
    params : dict
        The model's parameters (any float dtype; the graph is float32).
    meta : dict
        :func:`charrnn.export.layout.metadata` of the model.

    Returns
    -------
    onnx.ModelProto
    """
    b = _Builder()
    w = _Weights(b, params, meta["cell"])
    V, L, S = len(meta["vocab"]), w.L, meta["state_size"]
    logprobs, new_state = _step(b, w, "token", "state")
    b.nodes.append(helper.make_node("Identity", [logprobs], ["logprobs"]))
    b.nodes.append(helper.make_node("Identity", [new_state], ["new_state"]))
    graph = helper.make_graph(
        b.nodes,
        "charrnn_step",
        [
            helper.make_tensor_value_info("token", INT64, ["batch"], "the symbol each reads"),
            helper.make_tensor_value_info(
                "state", FLOAT, [L, "batch", S], "every layer's state; zeros to start"
            ),
        ],
        [
            helper.make_tensor_value_info("logprobs", FLOAT, ["batch", V], "log p(next symbol)"),
            helper.make_tensor_value_info("new_state", FLOAT, [L, "batch", S], "the next state"),
        ],
        initializer=b.weights,
        doc_string="One step of a charrnn model: a symbol and the state in, "
        "log-probabilities of the next symbol and the new state out.",
    )
    return _model(graph, meta, "step")


def word_scorer(params: Params, meta: dict[str, Any]) -> onnx.ModelProto:
    """The word scorer of the module notes (words-mode models), checked.

    Parameters
    ----------
    params : dict
    meta : dict
        :func:`charrnn.export.layout.metadata` of the model.

    Returns
    -------
    onnx.ModelProto

    Raises
    ------
    CharRNNError
        For a text-mode model, whose strings have no closing boundary to score.
    """
    if meta["mode"] != "words":
        raise CharRNNError(
            "a word scorer is for words-mode models; a text-mode model exports its step graph"
        )
    outer = _Builder()
    w = _Weights(outer, params, meta["cell"])
    L, S = w.L, meta["state_size"]

    # The Scan's body: one step, then the log-probability of the symbol that follows.
    body = _Builder(prefix="step_")
    logprobs, new_state = _step(body, w, "x_t", "state_in")
    target = body.op("Unsqueeze", ["y_t", w.axis(1)])  # (B, 1)
    picked = body.op("GatherElements", [logprobs, target], axis=1)  # (B, 1)
    body.nodes.append(helper.make_node("Identity", [new_state], ["state_out"]))
    body.nodes.append(helper.make_node("Squeeze", [picked, w.axis(1)], ["lp_t"]))
    step_graph = helper.make_graph(
        body.nodes,
        "charrnn_score_step",
        [
            helper.make_tensor_value_info("state_in", FLOAT, [L, "batch", S]),
            helper.make_tensor_value_info("x_t", INT64, ["batch"]),
            helper.make_tensor_value_info("y_t", INT64, ["batch"]),
        ],
        [
            helper.make_tensor_value_info("state_out", FLOAT, [L, "batch", S]),
            helper.make_tensor_value_info("lp_t", FLOAT, ["batch"]),
        ],
    )

    b = outer
    zero, one, two = w.axis(0), w.axis(1), b.ints("two", [2])
    x = b.op("Slice", ["tokens", zero, b.ints("minus_one", [-1]), w.axis(0)])  # (T-1, B) read
    y = b.op("Slice", ["tokens", one, b.ints("end", [2**62]), w.axis(0)])  # (T-1, B) predicted
    shape = b.op("Shape", ["tokens"])  # [T, B]
    batch = b.op("Slice", [shape, one, two, w.axis(0)])  # [B]
    state_shape = b.op("Concat", [b.ints("L", [L]), batch, b.ints("S", [S])], axis=0)
    zeros = helper.make_tensor("zero_f", FLOAT, [1], [0.0])
    h0 = b.op("ConstantOfShape", [state_shape], value=zeros)  # (L, B, S)
    _, lps = b.op("Scan", [h0, x, y], 2, body=step_graph, num_scan_inputs=2)  # (T-1, B)
    # Position t counts while t < length - 1: the padding after a word scores nothing.
    zero_s, one_s = b.ints("zero_scalar", 0), b.ints("one_scalar", 1)
    n_pred = b.op("Sub", [b.op("Gather", [shape, zero_s], axis=0), one_s])  # T-1
    t = b.op("Range", [zero_s, n_pred, one_s])  # (T-1,)
    limit = b.op("Sub", ["lengths", one_s])  # (B,)
    mask = b.op("Less", [b.op("Unsqueeze", [t, w.axis(1)]), b.op("Unsqueeze", [limit, w.axis(0)])])
    # Summed in float64, as charrnn sums: a float32 sum would lose a few ulps of the
    # total per symbol, ~1e-6 for a word of 10 symbols.
    lps64 = b.op("Cast", [lps], to=DOUBLE)
    nothing = b.weight("zero_logprob", np.array(0.0, dtype=np.float64), keep=True)
    b.nodes.append(helper.make_node("Where", [mask, lps64, nothing], ["token_logprobs"]))
    b.nodes.append(
        helper.make_node("ReduceSum", ["token_logprobs", w.axis(0)], ["logprob"], keepdims=0)
    )
    graph = helper.make_graph(
        b.nodes,
        "charrnn_word_scorer",
        [
            helper.make_tensor_value_info(
                "tokens", INT64, ["time", "batch"], "'\\n' + word + '\\n', padded at the end"
            ),
            helper.make_tensor_value_info(
                "lengths", INT64, ["batch"], "symbols of each sequence, both boundaries counted"
            ),
        ],
        [
            helper.make_tensor_value_info("logprob", DOUBLE, ["batch"], "log p(word)"),
            helper.make_tensor_value_info(
                "token_logprobs", DOUBLE, ["steps", "batch"], "log p of each symbol predicted"
            ),
        ],
        initializer=b.weights,
        doc_string="The log-probability of whole words under a charrnn words-mode model, "
        "the closing boundary included, as charrnn score gives it.",
    )
    return _model(graph, meta, "word-scorer")
