"""Checkpoints: exact resume, signals, atomic writes, refusal of pickles."""

from __future__ import annotations

import json
import os
import pickle
import signal
import stat
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from charrnn.common.errors import CharRNNError
from charrnn.training import checkpoint
from tests.conftest import run_cli_process


def _state(path):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "meta"}
        meta = json.loads(z["meta"].tobytes())
    return arrays, meta


@pytest.mark.parametrize(
    ("mode", "dtype", "ema"),
    [
        ("words", "float64", None),
        ("words", "float32", None),
        ("text", "float64", None),
        ("text", "float32", None),
        ("words", "float32", "0.9"),
        ("text", "float64", "0.9"),
    ],
)
def test_resume_is_bit_identical(cli, tmp_path, mode, dtype, ema):
    data = tmp_path / "d.txt"
    data.write_text("\n".join(f"{a}{b}x{a}" for a in "abcdefg" for b in "hijklmn"))
    # Raising --steps on a resume stretches a cosine schedule over the new budget, so
    # only at a constant rate does the extended run equal one that had 23 steps from
    # the start; a run stopped and resumed within its budget stays exact under cosine
    # (test_run.py's resume tests, at the default schedule).
    flags = [
        "--mode",
        mode,
        "--hidden",
        "12",
        "--batch-size",
        "5",
        "--seq-len",
        "7",
        "--dtype",
        dtype,
        "--log-every",
        "4",
        "--schedule",
        "constant",
        "--quiet",
    ]
    if ema:
        flags += ["--ema", ema]
    one, two = tmp_path / "one", tmp_path / "two"
    assert cli("train", data, "--out", one, "--steps", "23", *flags)[0] == 0
    assert cli("train", data, "--out", two, "--steps", "9", *flags)[0] == 0
    code, _, err = cli("train", data, "--out", two, "--steps", "23", "--resume", *flags)
    assert code == 0, err
    a, meta_a = _state(one / "latest.npz")
    b, meta_b = _state(two / "latest.npz")
    assert meta_a["step"] == meta_b["step"] == 23
    assert set(a) == set(b) and any(k.startswith("optim/") for k in a)
    if mode == "text":
        assert "state/h" in a
    # With --ema the model is the average, and the raw parameters travel beside it.
    assert any(k.startswith("train/") for k in a) == bool(ema)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        assert a[k].dtype == b[k].dtype


def test_resume_may_change_lr_but_not_shape(cli, tmp_path):
    run = tmp_path / "r"
    assert cli("train", "@vector", "--out", run, "--hidden", "8", "--steps", "3", "--quiet")[0] == 0
    code, _, err = cli("train", "@vector", "--out", run, "--hidden", "16", "--resume", "--quiet")
    assert code == 2 and "--hidden" in err and "new run" in err
    code, _, err = cli(
        "train", "@vector", "--out", run, "--steps", "6", "--lr", "0.001", "--resume", "--quiet"
    )
    assert code == 0, err
    assert checkpoint.load(run / "latest.npz").step == 6


def test_resume_refuses_other_data(cli, tmp_path):
    run = tmp_path / "r"
    cli("train", "@vector", "--out", run, "--steps", "2", "--hidden", "4", "--quiet")
    code, _, err = cli("train", "@tutorial", "--out", run, "--steps", "4", "--resume", "--quiet")
    assert code == 2 and "same data" in err


def test_sigint_saves_a_loadable_checkpoint_and_exits_130(tmp_path):
    run = tmp_path / "r"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "charrnn",
            "train",
            "@names",
            "--out",
            str(run),
            "--hidden",
            "32",
            "--steps",
            "10000000",
            "--log-every",
            "50",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while not (run / "metrics.jsonl").exists() and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err
    ckpt = checkpoint.load(run / "latest.npz")
    assert ckpt.step >= 50
    r = run_cli_process(
        "train", "@names", "--out", run, "--resume", "--quiet", "--steps", str(ckpt.step + 5)
    )
    assert r.returncode == 0, r.stderr
    assert checkpoint.load(run / "latest.npz").step == ckpt.step + 5


def test_interrupted_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    from charrnn import CharRNN

    m = CharRNN(hidden=8, steps=3, val_fraction=0).fit(["abc", "abd"])
    path = tmp_path / "latest.npz"
    m.save(path)
    before = checkpoint.load(path).params["Wxh"].copy()

    def crash(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint.np, "savez", crash)
    with pytest.raises(OSError):
        m.save(path)
    np.testing.assert_array_equal(checkpoint.load(path).params["Wxh"], before)
    assert [p.name for p in tmp_path.iterdir()] == ["latest.npz"]  # no temp files left


def test_pickled_object_is_refused_without_unpickling(tmp_path):
    marker = tmp_path / "unpickled"

    class Boom:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.npz"
    np.savez(path, meta=np.frombuffer(b"{}", np.uint8), evil=np.array([Boom()], dtype=object))
    with pytest.raises(CharRNNError, match="pickle"):
        checkpoint.load(path)
    assert not marker.exists()


def test_other_version_truncated_and_corrupted(tmp_path):
    from charrnn import CharRNN

    m = CharRNN(hidden=4, steps=2, val_fraction=0).fit(["ab"])
    good = tmp_path / "good.npz"
    m.save(good)
    raw = good.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CharRNNError, match="truncated or corrupted"):
        checkpoint.load(tmp_path / "trunc.npz")
    (tmp_path / "noise.npz").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CharRNNError):
        checkpoint.load(tmp_path / "noise.npz")
    # another format version
    with zipfile.ZipFile(good) as z:
        meta = json.loads(np.load(z.open("meta.npy")).tobytes())
    arrays = dict(np.load(good, allow_pickle=False))
    meta["version"] = 99
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(tmp_path / "v99.npz", **arrays)
    with pytest.raises(CharRNNError, match="version 99"):
        checkpoint.load(tmp_path / "v99.npz")


# ----------------------------------------------------------------------------- format version 1


def _write_version_1(path, config, vocab, params, extra, optim=None, step=0, t=0):
    """A checkpoint as format version 1's save wrote it: the run's state in "extra"."""
    meta = {
        "format": "charrnn-checkpoint",
        "version": 1,
        "config": config.to_dict(),
        "vocab": vocab.itos,
        "step": step,
        "epoch": 0,
        "batch_pos": step,
        "optimizer": {"name": config.optimizer, "t": t},
        "extra": extra,
    }
    arrays = {"meta": np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), np.uint8)}
    arrays.update({f"param/{k}": np.asarray(v) for k, v in params.items()})
    arrays.update({f"optim/{k}": np.asarray(v) for k, v in (optim or {}).items()})
    np.savez(path, **arrays)


def test_version_1_checkpoint_loads_its_extra_as_run_state(tmp_path):
    from charrnn import CharRNN

    m = CharRNN(hidden=4, steps=2, val_fraction=0).fit(["ab", "abc"])
    n = sum(v.size for v in m.params_.values())
    optim = {"m/all": np.full(n, 0.5, np.float32), "v/all": np.full(n, 0.25, np.float32)}
    extra = {
        "data": "/data/w.txt",
        "encoding": "latin-1",
        "data_fingerprint": "abc123",
        "best_val": 1.25,
        "bad_evals": 3,
        "note": "free-form in version 1",
    }
    _write_version_1(tmp_path / "v1.npz", m.config_, m.vocab_, m.params_, extra, optim, 2, 2)
    ckpt = checkpoint.load(tmp_path / "v1.npz")
    assert ckpt.run == checkpoint.RunState(
        data="/data/w.txt",
        encoding="latin-1",
        data_fingerprint="abc123",
        best_val=1.25,
        bad_evals=3,
        elapsed=0.0,
    )
    assert (ckpt.step, ckpt.batch_pos, ckpt.optimizer_t) == (2, 2, 2)
    np.testing.assert_array_equal(ckpt.optimizer_state["v/all"], optim["v/all"])
    for k, v in m.params_.items():
        np.testing.assert_array_equal(ckpt.params[k], v)
    # Keys version 1 did not write take their defaults.
    _write_version_1(tmp_path / "bare.npz", m.config_, m.vocab_, m.params_, {})
    assert checkpoint.load(tmp_path / "bare.npz").run == checkpoint.RunState()
    # Saving it again writes version 2, which reads back the same.
    checkpoint.save(tmp_path / "v2.npz", ckpt)
    assert _state(tmp_path / "v2.npz")[1]["version"] == 2
    assert checkpoint.load(tmp_path / "v2.npz").run == ckpt.run


def test_per_parameter_optimiser_state_is_joined_into_the_flat_layout(tmp_path):
    from charrnn import CharRNN
    from charrnn.training.trainer import Trainer

    m = CharRNN(hidden=4, steps=2, val_fraction=0).fit(["ab", "abc"])
    rng = np.random.default_rng(0)
    optim = {
        f"{slot}/{k}": rng.random(v.shape).astype(np.float32)
        for slot in ("m", "v")
        for k, v in m.params_.items()
    }
    _write_version_1(tmp_path / "v1.npz", m.config_, m.vocab_, m.params_, {}, optim, 2, 2)
    ckpt = checkpoint.load(tmp_path / "v1.npz")
    assert set(ckpt.optimizer_state) == {"m/all", "v/all"}
    trainer = Trainer(m.config_.replace(steps=3), m.vocab_, ["ab", "abc"])
    trainer.restore(ckpt)
    for slot in ("m", "v"):
        flat = trainer.optimizer.state_arrays()[f"{slot}/all"]
        for k, p in trainer.params.items():  # views into the flat buffer, in its order
            start = (p.ctypes.data - trainer.flat.ctypes.data) // p.itemsize
            want = optim[f"{slot}/{k}"].ravel()
            np.testing.assert_array_equal(flat[start : start + p.size], want, err_msg=k)
    trainer.train_step()  # the optimiser finds its state where it looks for it
    # Half of each layout is neither.
    del optim["v/by"]
    _write_version_1(tmp_path / "half.npz", m.config_, m.vocab_, m.params_, {}, optim, 2, 2)
    with pytest.raises(CharRNNError, match="optim/v/by is missing"):
        checkpoint.load(tmp_path / "half.npz")


def test_a_version_1_run_resumes(cli, tmp_path):
    run = tmp_path / "r"
    flags = ["--hidden", "8", "--quiet", "--log-every", "2"]
    assert cli("train", "@vector", "--out", run, "--steps", "4", *flags)[0] == 0
    v2 = checkpoint.load(run / "latest.npz")
    assert v2.run.data == "@vector" and v2.run.data_fingerprint
    v1 = tmp_path / "v1.npz"
    _write_version_1(
        v1,
        v2.config,
        v2.vocab,
        v2.params,
        v2.run.to_dict(),
        v2.optimizer_state,
        v2.step,
        v2.optimizer_t,
    )
    v1.replace(run / "latest.npz")
    code, _, err = cli("train", "@vector", "--out", run, "--steps", "6", "--resume", *flags)
    assert code == 0, err
    assert checkpoint.load(run / "latest.npz").step == 6
    # The fingerprint came through version 1's "extra": other data is still refused.
    code, _, err = cli("train", "@tutorial", "--out", run, "--steps", "8", "--resume", *flags)
    assert code == 2 and "same data" in err


# ----------------------------------------------------------------------------- run state


def test_run_state_round_trips_and_checks_its_types(tmp_path):
    from charrnn import CharRNN

    m = CharRNN(hidden=4, steps=2, val_fraction=0).fit(["ab"])
    run = checkpoint.RunState("@names", "utf-8", "ff", 2.5, 1, 12.5)
    ckpt = checkpoint.Checkpoint(m.config_, m.vocab_, m.params_, run=run)
    checkpoint.save(tmp_path / "a.npz", ckpt)
    assert _state(tmp_path / "a.npz")[1]["run"] == run.to_dict()
    assert checkpoint.load(tmp_path / "a.npz").run == run
    assert checkpoint.RunState.from_dict({"best_val": 2}).best_val == 2.0
    bad = [
        {"bad_evals": -1},
        {"bad_evals": 1.0},
        {"bad_evals": True},
        {"best_val": "2"},
        {"best_val": float("nan")},
        {"elapsed": -1.0},
        {"data": 3},
        {"encoding": None},
        {"encoding": "no-such-codec"},
        {"shoe_size": 9},
        [],
    ]
    for d in bad:
        with pytest.raises(CharRNNError, match=r"run state|run-state"):
            checkpoint.RunState.from_dict(d)
    # save refuses what load would refuse, instead of writing an unreadable file
    ckpt.run = checkpoint.RunState(best_val=float("inf"))
    with pytest.raises(CharRNNError, match="best_val"):
        checkpoint.save(tmp_path / "b.npz", ckpt)
    assert not (tmp_path / "b.npz").exists()


def test_to_checkpoint_copies_the_run_state():
    from charrnn.core.config import Config
    from charrnn.core.vocab import Vocab
    from charrnn.training.trainer import Trainer

    trainer = Trainer(Config(hidden=4, steps=1, val_fraction=0), Vocab("ab"), ["ab"])
    run = checkpoint.RunState(best_val=1.0)
    ckpt = trainer.to_checkpoint(run)
    run.best_val = 0.5  # training goes on after a save
    assert ckpt.run.best_val == 1.0
    assert trainer.to_checkpoint().run == checkpoint.RunState()


# ----------------------------------------------------------------------------- damaged files


@pytest.mark.parametrize(
    "content",
    [
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        b'{"format": "charrnn-checkpoint", "version": 2}',
        b"vector\nvictor\n",
        b"",
        b"\x93NUMPY\x01\x00v\x00{'descr': '|u1', 'fortran_order': False, 'shape': (0,), }",
    ],
    ids=["pdf", "json", "text", "empty", "npy"],
)
def test_a_file_that_is_not_an_npz_is_named_so(tmp_path, content):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(CharRNNError, match=r"not a charrnn checkpoint \(not an \.npz archive\)"):
        checkpoint.load(path)


def test_a_pickle_file_is_refused_without_unpickling(tmp_path):
    marker = tmp_path / "unpickled"

    class Boom:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "model.npz"
    path.write_bytes(pickle.dumps(Boom(), protocol=pickle.HIGHEST_PROTOCOL))
    with pytest.raises(CharRNNError, match="pickle"):
        checkpoint.load(path)
    assert not marker.exists()


@pytest.fixture
def text_run_arrays(tmp_path):
    """The entries of a text-mode checkpoint with optimiser state, state/h and train/."""
    from charrnn.core.config import Config
    from charrnn.core.vocab import Vocab
    from charrnn.training.trainer import Trainer

    text = "abc ab cab\nbca " * 4
    config = Config(
        mode="text", hidden=4, seq_len=3, batch_size=2, steps=2, ema=0.5, val_fraction=0
    )
    trainer = Trainer(config, Vocab(text), text)
    trainer.run()
    checkpoint.save(tmp_path / "good.npz", trainer.to_checkpoint())
    with np.load(tmp_path / "good.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _edit_meta(**changes):
    def edit(arrays):
        meta = json.loads(arrays["meta"].tobytes())
        for key, value in changes.items():
            *parents, last = key.split(".")
            node = meta
            for p in parents:
                node = node[p]
            node[last] = value
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)

    return edit


def _set(key, value):
    def edit(arrays):
        arrays[key] = value(arrays[key]) if callable(value) else value

    return edit


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (_edit_meta(step=-1), "step must be an integer >= 0"),
        (_edit_meta(epoch=1.5), "epoch must be an integer"),
        (_edit_meta(batch_pos=True), "batch_pos must be an integer"),
        (_edit_meta(vocab=["\n", "ab"]), "vocabulary"),
        (_edit_meta(**{"config.hidden": "4"}), "config hidden must be of type int"),
        (_edit_meta(**{"config.seed": -1}), "seed must be >= 0"),
        (_edit_meta(**{"config.lr": 10**400}), "config lr must be of type float"),
        (_edit_meta(**{"config.optimizer": "sgd"}), "optimizer 'adam' is not the config's"),
        (_edit_meta(**{"optimizer.t": -2}), "optimizer t"),
        (_edit_meta(**{"run.bad_evals": "3"}), "bad_evals"),
        (_edit_meta(**{"config.mode": "words"}), "words-mode checkpoint carries a hidden state"),
        (_edit_meta(notes="hi"), "unknown keys"),
        (_set("optim/m/all", lambda a: a[:-1]), "optim/m/all has shape"),
        (_set("optim/v/all", lambda a: a.astype(np.float64)), "optim/v/all has shape"),
        (_set("state/h", lambda a: a[:, :, :-1]), "state/h has shape"),
        (_set("state/h", lambda a: np.concatenate([a, a, a], axis=1)), "state/h has shape"),
        (_set("state/h", lambda a: np.full_like(a, np.nan)), "state/h holds non-finite"),
        (_set("train/Why", lambda a: np.full_like(a, np.inf)), "train/Why holds non-finite"),
        (_set("param/bh", lambda a: a[None]), "param/bh has shape"),
        (_set("extra/notes", np.zeros(2)), "unexpected entry 'extra/notes'"),
        (_set("optim/mem/all", np.zeros(2)), "unexpected entry optim/mem/all"),
    ],
)
def test_inconsistent_contents_are_refused(tmp_path, text_run_arrays, edit, match):
    arrays = dict(text_run_arrays)
    checkpoint.load(tmp_path / "good.npz")  # the unedited file loads
    edit(arrays)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(CharRNNError, match=match) as info:
        checkpoint.load(tmp_path / "bad.npz")
    assert "is damaged" in str(info.value) and "retrain" in str(info.value)


def test_compressed_or_missing_entries_are_refused(tmp_path, text_run_arrays):
    np.savez_compressed(tmp_path / "z.npz", **text_run_arrays)
    with pytest.raises(CharRNNError, match="compressed"):
        checkpoint.load(tmp_path / "z.npz")
    arrays = {k: v for k, v in text_run_arrays.items() if k != "optim/v/all"}
    np.savez(tmp_path / "m.npz", **arrays)
    with pytest.raises(CharRNNError, match="optim/v/all is missing"):
        checkpoint.load(tmp_path / "m.npz")


def test_a_jamo3_model_with_the_first_final_head_is_named_not_called_damaged(tmp_path):
    # The final head once read h, the initial and the medial side by side (Wth, Wtl);
    # it is now a chain through the medial head (Wtu). Such a checkpoint is whole.
    from charrnn import CharRNN

    CharRNN(hidden=4, steps=1, val_fraction=0, units="jamo3").fit(["가나", "다람"]).save(
        tmp_path / "new.npz"
    )
    with np.load(tmp_path / "new.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    H = arrays["param/Wtu"].shape[0]
    arrays["param/Wth"] = arrays.pop("param/Wtu")
    arrays["param/Wtl"] = np.zeros((H, 19), arrays["param/Wth"].dtype)
    np.savez(tmp_path / "old.npz", **arrays)
    with pytest.raises(CharRNNError, match="first final head") as err:
        checkpoint.load(tmp_path / "old.npz")
    assert "damaged" not in str(err.value) and "retrain" in str(err.value)


# ----------------------------------------------------------------------------- file mode


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_checkpoint_gets_the_mode_of_a_new_file_under_the_umask(tmp_path, umask):
    from charrnn import CharRNN

    m = CharRNN(hidden=4, steps=1, val_fraction=0).fit(["ab"])
    old = os.umask(umask)
    try:
        m.save(tmp_path / "new.npz")
        (tmp_path / "old.npz").write_bytes(b"")
        m.save(tmp_path / "old.npz")  # replacing a file
    finally:
        os.umask(old)
    for name in ("new.npz", "old.npz"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name
