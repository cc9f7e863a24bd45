"""ONNX: the exported graphs run in ONNX Runtime and give what charrnn gives.

For every cell, layer count (1-3), unit kind and mode: ``charrnn export --to onnx``
writes graphs that pass ``onnx.checker``; ONNX Runtime's step graph (and, in words mode,
its word scorer) gives ``charrnn score``'s log-probabilities of 1,000 strings to 1e-5
(float32), each symbol's and each string's; greedy decoding driven by ONNX Runtime gives
the strings ``charrnn sample --greedy`` prints. The app side of each test reads the
vocabulary from the file and encodes text with ``unicodedata`` alone, as an app would.
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from .models import (
    CELLS,
    LAYERS,
    MODES,
    UNITS,
    decode,
    encode,
    greedy_mask,
    matrix,
    random_model,
    random_strings,
)

onnx = pytest.importorskip("onnx", reason="ONNX export needs onnx: pip install 'charrnn[export]'")
ort = pytest.importorskip("onnxruntime", reason="the graphs run in onnxruntime (charrnn[export])")

TOLERANCE = 1e-5
COMBOS = [(c, l, u, m) for c in CELLS for l in LAYERS for u in UNITS for m in MODES]
IDS = [f"{c}-L{l}-{u}-{m}" for c, l, u, m in COMBOS]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """``(model, run file, step graph, scorer graph or None)`` of a combination, exported once."""
    from charrnn.cli import main

    cache: dict = {}

    def get(cell, layers, units, mode):
        key = (cell, layers, units, mode)
        if key not in cache:
            folder = tmp_path_factory.mktemp(f"{cell}{layers}{units}{mode}")
            model = random_model(cell, layers, units, mode)
            run, step, scorer = folder / "m.npz", folder / "m.onnx", folder / "m.scorer.onnx"
            model.save(run)
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                assert main(["export", str(run), "--to", "onnx", str(step)]) == 0
            written = [step, scorer] if mode == "words" else [step]
            assert printed.getvalue().split() == [str(p) for p in written]
            assert scorer.exists() == (mode == "words")
            cache[key] = (model, run, step, scorer if mode == "words" else None)
        return cache[key]

    return get


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def file_metadata(path) -> dict:
    """The model's metadata_props, JSON values decoded (the vocabulary, units, config ...)."""
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    out = {}
    for k, v in props.items():
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def padded(seqs: list[list[int]], fill: int) -> np.ndarray:
    """(T, B) int64, each sequence a column, padded at the end with ``fill``."""
    out = np.full((max(map(len, seqs)), len(seqs)), fill, dtype=np.int64)
    for b, s in enumerate(seqs):
        out[: len(s), b] = s
    return out


def step_logprobs(sess, meta, seqs: list[list[int]]) -> np.ndarray:
    """(T-1, B) float64: log p of each symbol after the first, by the step graph; 0 past the end."""
    tokens = padded(seqs, meta["boundary_id"])
    lengths = np.array([len(s) for s in seqs])
    T, B = tokens.shape
    state = np.zeros((meta["layers"], B, meta["state_size"]), dtype=np.float32)
    out = np.zeros((T - 1, B))
    for t in range(T - 1):
        logp, state = sess.run(["logprobs", "new_state"], {"token": tokens[t], "state": state})
        out[t] = np.where(t < lengths - 1, logp[np.arange(B), tokens[t + 1]], 0.0)
    return out


def charrnn_logprobs(scores, T: int) -> np.ndarray:
    """(T-1, B): charrnn's per-symbol log-probabilities, laid out as step_logprobs."""
    out = np.zeros((T - 1, len(scores)))
    for b, s in enumerate(scores):
        out[: len(s.char_nll), b] = -np.array(s.char_nll)
    return out


@pytest.mark.parametrize(("cell", "layers", "units", "mode"), matrix(COMBOS, IDS))
def test_onnx_runtime_scores_as_charrnn_score(exported, cell, layers, units, mode):
    model, _, step_path, scorer_path = exported(cell, layers, units, mode)
    onnx.checker.check_model(onnx.load(str(step_path)), full_check=True)
    meta = file_metadata(step_path)
    assert meta["graph"] == "step" and meta["vocab"] == model.vocab_.itos
    assert meta["units"]["kind"] == units and meta["config"]["cell"] == cell
    texts = random_strings(model)
    scores = model.score_details(texts)
    end = "\n" if mode == "words" else ""
    seqs = [encode(meta, "\n" + t + end) for t in texts]
    assert [len(s) - 1 for s in seqs] == [len(s.char_nll) for s in scores]  # same symbols read
    ours = step_logprobs(session(step_path), meta, seqs)
    theirs = charrnn_logprobs(scores, ours.shape[0] + 1)
    assert np.abs(ours - theirs).max() < TOLERANCE
    totals = np.array([s.logprob for s in scores])
    assert np.abs(ours.sum(axis=0) - totals).max() < TOLERANCE
    if scorer_path is None:
        return
    onnx.checker.check_model(onnx.load(str(scorer_path)), full_check=True)
    assert file_metadata(scorer_path)["graph"] == "word-scorer"
    tokens = padded(seqs, meta["boundary_id"])
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    logprob, per_symbol = session(scorer_path).run(
        ["logprob", "token_logprobs"], {"tokens": tokens, "lengths": lengths}
    )
    assert np.abs(logprob - totals).max() < TOLERANCE
    assert np.abs(per_symbol - theirs).max() < TOLERANCE


def greedy(sess, meta, prefix: str, max_len: int) -> str:
    """Greedy decoding as an app writes it: the step graph, argmax under sample's masks."""
    boundary = meta["boundary_id"]
    state = np.zeros((meta["layers"], 1, meta["state_size"]), dtype=np.float32)
    x = boundary
    for ix in encode(meta, prefix):
        _, state = sess.run(None, {"token": np.array([x]), "state": state})
        x = ix
    out: list[int] = []
    for pos in range(max_len):
        logp, state = sess.run(None, {"token": np.array([x]), "state": state})
        logp = np.where(greedy_mask(meta, x, pos, max_len), logp[0], -np.inf)
        x = int(np.argmax(logp))
        if meta["mode"] == "words" and x == boundary:
            break
        out.append(x)
    return prefix + decode(meta, out)


@pytest.mark.parametrize(("cell", "layers", "units", "mode"), matrix(COMBOS, IDS))
def test_greedy_decoding_in_onnx_runtime_gives_charrnn_sample_greedy(
    exported, cli, cell, layers, units, mode
):
    _, run, step_path, _ = exported(cell, layers, units, mode)
    meta = file_metadata(step_path)
    sess = session(step_path)
    prefixes = ["", "가", "하늘"] if units == "jamo" else ["", "k", "ma"]
    max_len = 100 if mode == "words" else 60
    for prefix in prefixes:
        code, out, err = cli(
            "sample", run, "--greedy", "-n", "1", "--max-len", max_len, "--json", "--prefix", prefix
        )
        assert code == 0, err
        [expected] = json.loads(out)["samples"]
        assert greedy(sess, meta, prefix, max_len) == expected, prefix


def test_a_trained_run_scores_in_onnx_runtime_as_charrnn_score_prints(cli, tmp_path):
    """The whole path a user takes: train, export the run, score in ONNX Runtime."""
    run = tmp_path / "names"
    code, _, err = cli(
        "train", "@names", "--out", run, "--steps", "30", "--hidden", "32", "--quiet"
    )
    assert code == 0, err
    code, out, err = cli("export", run, "--to", "onnx", tmp_path / "names.onnx")
    assert code == 0 and out.split() == [
        str(tmp_path / f) for f in ("names.onnx", "names.scorer.onnx")
    ]
    names = ["anna", "emma", "kristina", "x", "zoe"]
    code, out, _ = cli("score", run, *names, "--json")
    printed = [s["logprob"] for s in json.loads(out)["scores"]]
    meta = file_metadata(tmp_path / "names.scorer.onnx")
    seqs = [encode(meta, "\n" + n + "\n") for n in names]
    [logprob] = session(tmp_path / "names.scorer.onnx").run(
        ["logprob"],
        {"tokens": padded(seqs, meta["boundary_id"]), "lengths": np.array([len(s) for s in seqs])},
    )
    assert np.abs(logprob - printed).max() < TOLERANCE


def test_a_float64_model_exports_as_float32_and_still_agrees(tmp_path):
    from charrnn.export import export_model

    model = random_model("lstm", 2, "char", "words", dtype="float64")
    step_path, scorer_path = export_model(model, tmp_path / "m.onnx", "onnx")
    weights = onnx.load(step_path).graph.initializer
    floats = [w for w in weights if w.data_type != onnx.TensorProto.INT64]
    assert floats and all(w.data_type == onnx.TensorProto.FLOAT for w in floats)
    meta = file_metadata(step_path)
    texts = random_strings(model)
    seqs = [encode(meta, "\n" + t + "\n") for t in texts]
    [logprob] = session(scorer_path).run(
        ["logprob"],
        {"tokens": padded(seqs, meta["boundary_id"]), "lengths": np.array([len(s) for s in seqs])},
    )
    assert np.abs(logprob - model.score_samples(texts)).max() < TOLERANCE
