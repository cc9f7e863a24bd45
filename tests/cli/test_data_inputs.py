"""``charrnn train DATA...``: many files, directories, globs, stdin, compressed files, both modes.

Also what a run records of its data, a resume with changed data refused by
name, and every bad member refused before anything is written.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from charrnn import CharRNN, CharRNNError
from charrnn.training import checkpoint
from tests.conftest import run_cli_process

Q = ["--hidden", "8", "--quiet"]
TEXT = ["--mode", "text", "--seq-len", "8", "--batch-size", "4"]
COMPRESS = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}


def _corpus(root: pathlib.Path) -> dict[str, bytes]:
    """A folder of names in plain and compressed files (the order is the sorted paths)."""
    files = {
        "a.txt": b"anna\nbob\ncid\n",
        "b.txt.gz": gzip.compress(b"dora\neve"),  # no final line end
        "c/d.txt.bz2": bz2.compress(b"fay\ngil\n"),
        "c/e.txt.xz": lzma.compress("hugo\nivy\njosé\n".encode()),
    }
    for rel, body in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(body)
    return files


def _members(run: pathlib.Path) -> list[dict]:
    return checkpoint.load(run / "latest.npz").run.members or []


def test_a_directory_trains_in_words_mode_and_the_run_records_each_member(cli, tmp_path):
    files = _corpus(tmp_path / "names")
    run = tmp_path / "r"
    code, _, err = cli("train", tmp_path / "names", "--out", run, "--steps", "3", *Q)
    assert code == 0, err
    members = _members(run)
    assert [m["path"] for m in members] == [str(tmp_path / "names" / k) for k in files]
    assert [m["sha256"] for m in members] == [hashlib.sha256(b).hexdigest() for b in files.values()]
    assert [m["bytes"] for m in members] == [len(b) for b in files.values()]
    config = json.loads((run / "config.json").read_text())
    assert config["members"] == members and config["data"] == str(tmp_path / "names")
    model = CharRNN.load(run)
    # Every word of every file, in both splits together ("eve" and "fay" not run together).
    train, val = _split_words(model)
    assert sorted(train + val) == sorted(
        ["anna", "bob", "cid", "dora", "eve", "fay", "gil", "hugo", "ivy", "josé"]
    )


def _split_words(model: CharRNN) -> tuple[list[str], list[str]]:
    from charrnn.generation.novelty import words_split

    ckpt = checkpoint.Checkpoint(model.config_, model.vocab_, model.params_, run=model.run_)
    return words_split(ckpt)


def test_several_files_and_a_glob_train_in_text_mode_on_the_joined_text(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _corpus(tmp_path / "names")
    (tmp_path / "more1.txt").write_text("kim\nlee")
    (tmp_path / "more2.txt").write_text("max\n")
    run = tmp_path / "r"
    data = ["names", "more*.txt"]
    code, _, err = cli(
        "train", *data, "--out", run, "--steps", "3", "--val-fraction", "0", *TEXT, *Q
    )
    assert code == 0, err
    joined = "anna\nbob\ncid\ndora\neve\nfay\ngil\nhugo\nivy\njosé\nkim\nlee\nmax\n"
    model = CharRNN.load(run)
    (cache,) = run.glob("tokens-*.bin")
    ids = np.fromfile(cache, dtype=np.uint8)
    assert model.vocab_.decode(ids) == joined
    assert len(_members(run)) == 6
    # eval takes the same kinds of DATA: the same figures as the joined text in one file.
    code, out, err = cli("eval", run, *data, "--json")
    assert code == 0, err
    (tmp_path / "joined.txt").write_text(joined)
    code, whole, err = cli("eval", run, "joined.txt", "--json")
    assert code == 0, err
    assert json.loads(out) == json.loads(whole)


def test_a_resume_with_changed_data_is_refused_naming_what_changed(cli, tmp_path):
    _corpus(tmp_path / "names")
    run = tmp_path / "r"
    args = ["train", tmp_path / "names", "--out", run, *Q]
    assert cli(*args, "--steps", "2")[0] == 0
    before = (run / "latest.npz").read_bytes()
    a = tmp_path / "names" / "a.txt"

    (tmp_path / "names" / "new.txt").write_text("zed\n")
    code, _, err = cli(*args, "--steps", "4", "--resume")
    assert code == 2 and "added names/new.txt" in err.replace(str(tmp_path) + "/", "")
    (tmp_path / "names" / "new.txt").unlink()

    a.write_text("anna\nbob\ncid\ndeb\n")
    code, _, err = cli(*args, "--steps", "4", "--resume")
    assert code == 2 and "edited" in err and "a.txt (13 -> 17 bytes)" in err
    a.write_text("anna\nbob\ncid\n")

    (tmp_path / "names" / "c" / "e.txt.xz").unlink()
    code, _, err = cli(*args, "--steps", "4", "--resume")
    assert code == 2 and "removed" in err and "e.txt.xz" in err and "same data" in err
    assert (run / "latest.npz").read_bytes() == before  # nothing written
    code, _, err = cli("eval", run)
    assert code == 2 and "data is gone" in err and "e.txt.xz" in err


def test_the_same_text_in_moved_or_recompressed_files_resumes(cli, tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("anna\nbob\ncid\ndan\n")
    run = tmp_path / "r"
    assert cli("train", f, "--out", run, "--steps", "2", *Q)[0] == 0
    g = tmp_path / "moved.txt.gz"
    g.write_bytes(gzip.compress(f.read_bytes()))
    f.unlink()
    code, _, err = cli("train", g, "--out", run, "--steps", "4", "--resume", *Q)
    assert code == 0, err
    assert [m["path"] for m in _members(run)] == [str(g)]  # the run now records where it is


def test_a_run_from_before_member_lists_still_resumes_and_checks_its_fingerprint(cli, tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("".join(f"name{i}\n" for i in range(20)))
    run = tmp_path / "r"
    assert cli("train", f, "--out", run, "--steps", "2", *Q)[0] == 0
    for name in ("latest.npz", "best.npz"):
        ckpt = checkpoint.load(run / name)
        ckpt.run.members = None
        checkpoint.save(run / name, ckpt)
    assert _members(run) == []
    code, _, err = cli("eval", run)  # the held-out split from the one file it recorded
    assert code == 0, err
    code, _, err = cli("train", f, "--out", run, "--steps", "4", "--resume", *Q)
    assert code == 0, err
    assert [m["path"] for m in _members(run)] == [str(f)]
    ckpt = checkpoint.load(run / "latest.npz")
    ckpt.run.members = None
    checkpoint.save(run / "latest.npz", ckpt)
    f.write_text("other\n")
    code, _, err = cli("train", f, "--out", run, "--steps", "6", "--resume", *Q)
    assert code == 2 and "fingerprint differs" in err and "same data" in err


@pytest.mark.parametrize(
    ("files", "data", "message"),
    [
        ({"a.txt": b"ok\n"}, ["nope.txt"], "no such file: {t}/nope.txt"),
        (
            {"a.txt": b"ok\n", "b.bin": b"\x00\x01"},
            ["a.txt", "b.bin"],
            "{t}/b.bin looks like a binary",
        ),
        ({"a.txt": b"ok\n", "e.txt": b""}, ["a.txt", "e.txt"], "{t}/e.txt is empty"),
        (
            {"a.txt": b"ok\n", "l.txt": b"ok\nn\xe9\n"},
            ["a.txt", "l.txt"],
            "{t}/l.txt is not valid utf-8 at line 2",
        ),
        ({"z.gz": b"\x1f\x8bnot gzip at all"}, ["z.gz"], "{t}/z.gz is gzip-compressed but damaged"),
        ({"d/.h": b"x\n"}, ["d"], "{t}/d is a directory with no files"),
        ({"d/x.bin": b"\x00"}, ["d"], r"{t}/d holds no text files: {t}/d/x.bin \(binary\)"),
        ({"a.txt": b"ok\n"}, ["*.md"], r"{t}/\*.md names no file"),
    ],
)
def test_a_bad_member_is_named_and_nothing_is_written(cli, tmp_path, files, data, message):
    import re

    for rel, body in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(body)
    for mode in ("words", "text"):
        run = tmp_path / f"r-{mode}"
        code, _, err = cli("train", *[tmp_path / d for d in data], "--out", run, "--mode", mode, *Q)
        assert code == 2, err
        assert re.search(message.format(t=re.escape(str(tmp_path))), err), err
        assert "Traceback" not in err
        assert not run.exists()


def test_val_data_apart_takes_the_same_kinds_and_eval_rebuilds_it(cli, tmp_path):
    _corpus(tmp_path / "names")
    held = tmp_path / "held"
    held.mkdir()
    (held / "v.txt.gz").write_bytes(gzip.compress(b"kim\nlee\nmax\n"))
    run = tmp_path / "r"
    code, _, err = cli(
        "train", tmp_path / "names", "--val-data", held, "--out", run, "--steps", "3", *Q
    )
    assert code == 0, err
    members = _members(run)
    assert [m.get("held_out", False) for m in members] == [False] * 4 + [True]
    code, out, err = cli("eval", run, "--json")
    assert code == 0, err
    heldout = json.loads(out)
    assert heldout.pop("split") == "held-out" and heldout.pop("data") == str(tmp_path / "names")
    code, out, err = cli("eval", run, held, "--json")  # the data given apart, read again
    assert code == 0, err
    assert heldout == json.loads(out)


def test_fit_takes_a_list_of_paths_and_refuses_a_mix(tmp_path):
    _corpus(tmp_path / "names")
    paths = [tmp_path / "names" / "a.txt", tmp_path / "names" / "c"]
    model = CharRNN(hidden=8, steps=2, val_fraction=0).fit(paths)
    assert [pathlib.Path(m["path"]).name for m in model.run_.members] == [
        "a.txt",
        "d.txt.bz2",
        "e.txt.xz",
    ]
    assert model.evaluate_file(paths).size == 3 + 2 + 3  # words
    with pytest.raises(CharRNNError, match="mixes paths and strings"):
        CharRNN(hidden=8, steps=2).fit([paths[0], "anna"])
    glob = str(tmp_path / "names" / "*.txt")
    assert CharRNN(hidden=8, steps=2).fit(glob).run_.members[0]["path"].endswith("a.txt")


# ----------------------------------------------------------------------------- stdin


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["words", "text"])
def test_stdin_trains_once_and_a_resume_checks_what_is_piped_again(tmp_path, mode):
    run = tmp_path / "r"
    body = "".join(f"name{i:03d}\n" for i in range(300))
    flags = ["--out", run, "--mode", mode, *Q, *(TEXT[2:] if mode == "text" else [])]
    p = run_cli_process("train", "-", "--steps", "2", *flags, input=body)
    assert p.returncode == 0, p.stderr
    (member,) = _members(run)
    assert member == {
        "path": "-",
        "bytes": len(body),
        "sha256": hashlib.sha256(body.encode()).hexdigest(),
    }
    # The same text again, even compressed: it resumes.
    p = subprocess.run(
        [sys.executable, "-m", "charrnn", "train", "-", "--steps", "4", "--resume"]
        + [str(f) for f in flags],
        input=gzip.compress(body.encode()),
        capture_output=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    p = run_cli_process("train", "-", "--steps", "6", "--resume", *flags, input=body + "extra\n")
    assert p.returncode == 2 and "edited standard input" in p.stderr and "same data" in p.stderr
    # stdin cannot be read again for the held-out split, but it can be piped to eval.
    p = run_cli_process("eval", run, input="")
    assert p.returncode == 2 and "standard input, which cannot be read again" in p.stderr
    p = run_cli_process("eval", run, "-", input=body)
    assert p.returncode == 0, p.stderr


@pytest.mark.slow
def test_stdin_with_files_empty_stdin_and_stdin_twice(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("anna\nbob\n")
    run = tmp_path / "r"
    p = run_cli_process("train", f, "-", "--out", run, "--steps", "2", *Q, input="cid\ndan\n")
    assert p.returncode == 0, p.stderr
    assert [m["path"] for m in _members(run)] == [str(f), "-"]
    p = run_cli_process("train", "-", "--out", tmp_path / "e", *Q, input="")
    assert p.returncode == 2 and "<stdin> is empty" in p.stderr and not (tmp_path / "e").exists()
    p = run_cli_process("train", "-", "-", "--out", tmp_path / "t", *Q, input="x\n")
    assert p.returncode == 2 and "can be given once only" in p.stderr
