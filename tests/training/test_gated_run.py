"""The gated cells through the whole house: config and flags, training with every
optimiser and clipping mode, exact resume, checkpoints, sampling, scoring, evaluation,
trace and the Python API."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from charrnn import CharRNN
from charrnn.common.errors import CharRNNError
from charrnn.core.cells import cell_names
from charrnn.core.config import Config
from charrnn.core.model import cell_of, get_cell, param_specs
from charrnn.core.vocab import Vocab
from charrnn.training import checkpoint
from charrnn.training.trainer import Trainer

WORDS = ["vector", "victor", "vera", "vendor", "ivory", "rover", "over", "cover"] * 4


def _state(path):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "meta"}
        meta = json.loads(z["meta"].tobytes())
    return arrays, meta


@pytest.mark.parametrize("cell", cell_names())  # every registered cell, by its name
@pytest.mark.parametrize("mode", ["words", "text"])
def test_resume_is_bit_identical(cli, tmp_path, cell, mode):
    data = tmp_path / "d.txt"
    data.write_text("\n".join(f"{a}{b}x{a}" for a in "abcdefg" for b in "hijklmn"))
    flags = [
        "--mode",
        mode,
        "--cell",
        cell,
        "--layers",
        "2",
        "--hidden",
        "6",
        "--batch-size",
        "5",
        "--seq-len",
        "7",
        "--dtype",
        "float64",
        "--dropout",
        "0.2",
        "--weight-decay",
        "0.1",
        "--ema",
        "0.9",
        "--log-every",
        "4",
        "--quiet",
        "--schedule",
        "constant",
    ]  # extending --steps would stretch a cosine
    one, two = tmp_path / "one", tmp_path / "two"
    assert cli("train", data, "--out", one, "--steps", "15", *flags)[0] == 0
    assert cli("train", data, "--out", two, "--steps", "6", *flags)[0] == 0
    code, _, err = cli("train", data, "--out", two, "--steps", "15", "--resume", *flags)
    assert code == 0, err
    a, meta_a = _state(one / "latest.npz")
    b, meta_b = _state(two / "latest.npz")
    assert meta_a["config"]["cell"] == cell and meta_a["step"] == meta_b["step"] == 15
    if mode == "text":  # the cell's whole state: the LSTM carries [h | c]
        assert a["state/h"].shape == (2, *get_cell(cell).state_shape(5, 6))
    assert set(a) == set(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_a_checkpoint_without_a_cell_is_an_rnn(cli, tmp_path):
    run = tmp_path / "r"
    assert cli("train", "@vector", "--out", run, "--hidden", "4", "--steps", "2", "--quiet")[0] == 0
    arrays, meta = _state(run / "latest.npz")
    for key in ("cell", "forget_bias"):  # a file written before the cells had a choice
        del meta["config"][key]
    old = tmp_path / "old.npz"
    np.savez(old, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    ck = checkpoint.load(old)
    assert ck.config.cell == "rnn" and cell_of(ck.params) is get_cell("rnn")


def test_the_cell_fixes_the_shape_on_resume_and_a_wrong_state_is_refused(cli, tmp_path):
    run = tmp_path / "r"
    flags = ["--mode", "text", "--hidden", "4", "--batch-size", "2", "--seq-len", "5", "--quiet"]
    assert cli("train", "@tutorial", "--out", run, "--cell", "lstm", "--steps", "3", *flags)[0] == 0
    code, _, err = cli(
        "train", "@tutorial", "--out", run, "--cell", "gru", "--steps", "6", "--resume", *flags
    )
    assert code == 2 and "--cell" in err
    arrays, meta = _state(run / "latest.npz")
    arrays["state/h"] = arrays["state/h"][..., :4]  # an LSTM state without its c half
    bad = tmp_path / "bad.npz"
    np.savez(bad, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    with pytest.raises(CharRNNError, match=r"state/h has shape \(1, 2, 4\)"):
        checkpoint.load(bad)


def test_an_unknown_cell_is_a_one_line_error(cli):
    with pytest.raises(SystemExit) as exc:  # argparse's choices
        cli("train", "@vector", "--cell", "transformer", "--steps", "1")
    assert exc.value.code == 2
    with pytest.raises(CharRNNError, match="cell must be one of rnn, gru, lstm"):
        Config(cell="tcn")
    with pytest.raises(CharRNNError, match="forget_bias"):
        Config(forget_bias=float("nan"))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_weight_decay_never_touches_a_bias(cell):
    """The decayed slice of the flat buffer is exactly the weight matrices."""
    config = Config(cell=cell, hidden=5, layers=2, weight_decay=0.5, steps=2, val_fraction=0)
    tr = Trainer(config, Vocab.from_text("\n".join(WORDS)), WORDS)
    biases = {s.name for s in param_specs(tr.vocab.size, 5, 2, cell) if not s.is_weight}
    assert biases >= {get_cell(cell).names(1).bias, "by"}
    start = tr.flat.ctypes.data
    for name, p in tr.params.items():
        inside = p.ctypes.data - start < tr.weights.nbytes
        assert inside == (name not in biases), name


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize(
    ("optimizer", "clip_mode", "lr"),
    [("sgd", "value", 3.0), ("adagrad", "norm", 0.1), ("adam", "none", 0.02)],
)
def test_every_optimiser_and_clipping_mode_learns(cell, optimizer, clip_mode, lr):
    config = Config(
        cell=cell,
        hidden=16,
        optimizer=optimizer,
        clip_mode=clip_mode,
        lr=lr,
        steps=60,
        batch_size=8,
        val_fraction=0,
    )
    tr = Trainer(config, Vocab.from_text("\n".join(WORDS)), WORDS)
    losses = [tr.train_step() for _ in range(60)]
    first = sum(l for l, _ in losses[:5]) / sum(n for _, n in losses[:5])
    last = sum(l for l, _ in losses[-5:]) / sum(n for _, n in losses[-5:])
    assert math.isfinite(last) and last < first - 0.3, (first, last)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_sample_score_eval_and_trace_from_the_cli(cli, tmp_path, cell):
    run = tmp_path / "r"
    code, out, err = cli(
        "train",
        "@names",
        "--out",
        run,
        "--cell",
        cell,
        "--layers",
        "2",
        "--hidden",
        "12",
        "--steps",
        "20",
        "--log-every",
        "10",
    )
    assert code == 0, err
    assert f"words-mode {cell.upper()}" in out + err
    code, out, _ = cli("sample", run, "-n", "4", "--prefix", "ma")
    assert code == 0 and len(out.splitlines()) == 4 and all(s.startswith("ma") for s in out.split())
    code, out, _ = cli("score", run, "anna", "bob")
    assert code == 0 and "anna" in out and "nats/char" in out
    code, out, _ = cli("eval", run, "@names")
    assert code == 0 and "nats" in out
    code, out, _ = cli("trace", run, "ann")
    assert code == 0 and "t=3" in out
    names = get_cell(cell).gate_names
    gate_lines = [line for line in out.splitlines() if "gates:" in line]
    assert len(gate_lines) == 4 and all(all(n in line for n in names) for line in gate_lines)
    assert "mean" in gate_lines[0]  # H=12: a summary per gate


def test_the_api_fits_samples_and_scores_a_gated_model():
    m = CharRNN(
        cell="lstm", hidden=16, steps=40, val_fraction=0, forget_bias=2.0, random_state=1
    ).fit(WORDS)
    assert m.config_.cell == "lstm" and "Wxifgo" in m.params_
    assert len(m.sample(n=3, prefix="v")) == 3
    assert m.get_params()["cell"] == "lstm"
    s = m.score_details(["vector"])[0]
    assert s.nats_per_char > 0


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_the_gradcheck_command_checks_a_gated_cell(cli, cell):
    code, out, _ = cli("gradcheck", "--cell", cell, "--json")
    d = json.loads(out)
    assert code == 0 and d["ok"] is True
    names = set(d["max_relative_error"]["text (carried state)"])
    assert names == {s.name for s in param_specs(7, 6, 1, cell)}
