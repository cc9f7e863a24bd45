"""Every user mistake: a clear message, a non-zero exit, no traceback, nothing lost."""

from __future__ import annotations

import errno
import os
import pathlib
import stat
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import run_cli_process

Q = ["--steps", "2", "--hidden", "4", "--quiet"]


def expect_error(cli, *args, match: str):
    code, out, err = cli(*args)
    assert code == 2, (out, err)
    assert match.lower() in err.lower(), err
    assert "Traceback" not in err
    return err


@pytest.fixture
def run(cli, tmp_path):
    path = tmp_path / "run"
    code, _, err = cli("train", "@vector", "--out", path, *Q)
    assert code == 0, err
    return path


def test_missing_file(cli, tmp_path):
    expect_error(cli, "train", tmp_path / "nope.txt", "--out", tmp_path / "r", match="no such file")
    assert not (tmp_path / "r").exists()  # nothing created for a failed start


def test_directory(cli, tmp_path):
    expect_error(cli, "train", tmp_path, "--out", tmp_path / "r", match="is a directory")


@pytest.mark.parametrize("content", [b"", b"   \n\n\t \n"])
def test_empty_or_whitespace_file(cli, tmp_path, content):
    f = tmp_path / "e.txt"
    f.write_bytes(content)
    expect_error(cli, "train", f, "--out", tmp_path / "r", match="empty")


def test_binary_file(cli, tmp_path):
    f = tmp_path / "b.bin"
    f.write_bytes(bytes(range(256)) * 10)
    expect_error(cli, "train", f, "--out", tmp_path / "r", match="binary")


def test_invalid_utf8_names_the_flag_and_encoding_flag_works(cli, tmp_path):
    f = tmp_path / "l1.txt"
    f.write_bytes("josé\nzoë\nanaïs\n".encode("latin-1") * 3)
    expect_error(cli, "train", f, "--out", tmp_path / "r", match="--encoding")
    code, _, err = cli("train", f, "--out", tmp_path / "r", "--encoding", "latin-1", *Q)
    assert code == 0, err
    code, out, _ = cli("score", tmp_path / "r", "josé")
    assert code == 0 and out.startswith("josé\t")


def test_unknown_encoding(cli, tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("abc\n")
    expect_error(
        cli, "train", f, "--out", tmp_path / "r", "--encoding", "klingon", match="encoding"
    )


def test_bom_and_crlf_are_handled_silently(cli, tmp_path):
    f = tmp_path / "w.txt"
    f.write_bytes(b"\xef\xbb\xbfanna\r\nbob\r\n")
    code, _, err = cli("train", f, "--out", tmp_path / "r", "--batch-size", "2", *Q)
    assert (code, err) == (0, "")
    code, out, _ = cli("sample", tmp_path / "r", "--json")
    assert "\ufeff" not in out and "\\r" not in out


def test_long_line_in_words_mode(cli, tmp_path):
    f = tmp_path / "long.txt"
    f.write_text("anna\n" + "word " * 2000 + "\n")
    expect_error(cli, "train", f, "--out", tmp_path / "r", match="--mode text")


@pytest.mark.parametrize(
    "flags,match",
    [
        (["--hidden", "0"], "--hidden must"),
        (["--hidden", "-3"], "--hidden must"),
        (["--batch-size", "0"], "--batch-size must"),
        (["--seq-len", "0"], "--seq-len must"),
        (["--steps", "0"], "--steps must"),
        (["--lr", "0"], "--lr must"),
        (["--lr", "-0.1"], "--lr must"),
        (["--lr", "inf"], "--lr must"),
        (["--clip", "-1"], "--clip must"),
        (["--val-fraction", "1.5"], "--val-fraction must"),
        (["--epochs", "0"], "--epochs must"),
        (["--log-every", "0"], "--log-every must"),
        (["--ema", "1"], "--ema must"),
        (["--ema", "-0.5"], "--ema must"),
        (["--eval-every", "0"], "--eval-every must"),
        (["--save-every", "-2"], "--save-every must"),
        (["--patience", "0"], "--patience must"),
        (["--time-budget", "0"], "--time-budget must"),
        (["--time-budget", "-1"], "--time-budget must"),
        (["--seed", "-1"], "--seed must"),
    ],
)
def test_hyperparameters_out_of_range(cli, tmp_path, flags, match):
    expect_error(cli, "train", "@vector", "--out", tmp_path / "r", *flags, match=match)
    assert not (tmp_path / "r").exists()


def test_non_numbers_are_argparse_errors(tmp_path):
    r = run_cli_process("train", "@vector", "--out", tmp_path / "r", "--lr", "fast")
    assert r.returncode == 2 and "expected a number" in r.stderr and "Traceback" not in r.stderr


def test_batch_larger_than_data_is_clamped_with_notice(cli, tmp_path):
    code, _, err = cli("train", "@tutorial", "--out", tmp_path / "r", "--batch-size", "500", *Q)
    assert code == 0, err
    assert "notice" in err and "using 13" in err  # 15 words, 2 held out


def test_existing_run_is_refused_unless_resume_or_force(cli, run):
    before = (run / "latest.npz").read_bytes()
    expect_error(cli, "train", "@vector", "--out", run, *Q, match="--resume")
    assert (run / "latest.npz").read_bytes() == before  # nothing lost
    code, _, err = cli("train", "@vector", "--out", run, "--force", *Q)
    assert code == 0, err


def test_resume_without_a_run(cli, tmp_path):
    expect_error(
        cli, "train", "@vector", "--out", tmp_path / "r", "--resume", match="no run to continue"
    )


def test_missing_checkpoint(cli, tmp_path):
    expect_error(cli, "sample", tmp_path / "none.npz", match="no checkpoint")
    (tmp_path / "emptyrun").mkdir()
    expect_error(cli, "sample", tmp_path / "emptyrun", match="holds no model")


def test_truncated_and_corrupted_checkpoint(cli, run):
    raw = (run / "best.npz").read_bytes()
    (run / "best.npz").write_bytes(raw[: len(raw) // 3])
    expect_error(cli, "sample", run, match="truncated or corrupted")
    flipped = bytearray(raw)
    for i in range(len(raw) // 2, len(raw) // 2 + 64):
        flipped[i] ^= 0xFF
    (run / "best.npz").write_bytes(bytes(flipped))
    expect_error(cli, "sample", run / "best.npz", match="checkpoint")


def test_npz_with_pickled_object(cli, tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, meta=np.array([{"a": 1}], dtype=object))
    expect_error(cli, "sample", path, match="pickle")


def test_absurd_sample_sizes(cli, run):
    expect_error(cli, "sample", run, "-n", "100000000", match="-n")
    expect_error(cli, "sample", run, "--max-len", "1000000000", match="--max-len")
    expect_error(cli, "sample", run, "-n", "0", match="-n")


def test_unknown_characters_named_unless_skipped(cli, run):
    expect_error(cli, "sample", run, "--prefix", "vZ", match="'Z'")
    code, out, _ = cli("sample", run, "--prefix", "vZ", "--unknown", "skip", "-n", "1")
    assert code == 0 and out.startswith("v")
    expect_error(cli, "score", run, "vé", match="'é'")
    code, out, _ = cli("score", run, "vé", "--unknown", "skip")
    assert code == 0 and out.startswith("v\t")


def test_prefix_file(cli, run, tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("ve\n")
    code, out, _ = cli("sample", run, "--prefix-file", f, "-n", "3")
    assert code == 0 and all(s.startswith("ve") for s in out.splitlines())
    expect_error(cli, "sample", run, "--prefix-file", tmp_path / "nope", match="no such file")


def test_unknown_builtin(cli, tmp_path):
    expect_error(cli, "train", "@nothing", "--out", tmp_path / "r", match="@names")


def test_user_errors_print_no_traceback_as_a_program(tmp_path):
    r = run_cli_process("sample", tmp_path / "missing")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "no checkpoint" in r.stderr


def test_novelty_when_the_training_data_is_gone(cli, tmp_path):
    data = tmp_path / "words.txt"
    data.write_text("anna\nbob\ncarl\ndora\n" * 5)
    run = tmp_path / "run"
    code, _, err = cli("train", data, "--out", run, *Q)
    assert code == 0, err
    data.unlink()
    expect_error(cli, "sample", run, "--novelty", match="needs the training data, which is gone")
    assert cli("sample", run, "-n", "3")[0] == 0  # sampling without --novelty still works


# ----------------------------------------------------------------------------- outputs


def test_an_output_that_is_not_a_regular_file_is_left_alone(cli, run, tmp_path):
    # The write renames a temporary file over its target: over a device or a pipe that
    # would replace it (as root, /dev/null) with a regular file.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for args in (
        ("export", run, "--to", "safetensors", fifo),
        ("viz", run, "vector", "--out", fifo),
    ):
        expect_error(cli, *args, match="not a regular file")
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode), args
    expect_error(cli, "export", run, "--to", "safetensors", tmp_path, match="is a folder")


def test_an_output_that_is_a_file_being_read_is_refused(cli, run, tmp_path):
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    expect_error(cli, "export", run, "--to", "safetensors", run / "best.npz", match="reads")
    expect_error(
        cli, "export", run / "latest.npz", "--to", "safetensors", run / "latest.npz", match="reads"
    )
    expect_error(cli, "viz", run, "vector", "--out", run / "latest.npz", match="reads")
    text = tmp_path / "t.txt"
    text.write_text("vector\n")
    expect_error(cli, "viz", run, "--text-file", text, "--out", text, match="reads")
    assert text.read_text() == "vector\n"
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
    assert cli("sample", run, "-n", "1")[0] == 0  # the model is still there


def test_an_output_through_a_link_writes_the_linked_file(cli, run, tmp_path):
    target = tmp_path / "model.safetensors"
    target.write_bytes(b"old")
    link = tmp_path / "link.safetensors"
    link.symlink_to(target)
    code, _, err = cli("export", run, "--to", "safetensors", link)
    assert code == 0, err
    assert link.is_symlink() and target.read_bytes() != b"old"


def test_an_output_whose_folder_is_missing_or_a_file(cli, run, tmp_path):
    expect_error(
        cli, "viz", run, "vector", "--out", tmp_path / "no" / "v.html", match="does not exist"
    )
    (tmp_path / "afile").write_text("x")
    expect_error(
        cli,
        "viz",
        run,
        "vector",
        "--out",
        tmp_path / "afile" / "v.html",
        match="is a file, not a folder",
    )
    expect_error(cli, "export", run, "--to", "safetensors", "", match="no file name")


# ----------------------------------------------------------------------------- encodings


def test_codecs_that_are_not_for_text_are_refused(cli, tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("anna\nbob\n")
    for codec in ("rot13", "base64", "zlib_codec", "hex"):
        expect_error(
            cli,
            "train",
            f,
            "--out",
            tmp_path / "r",
            "--encoding",
            codec,
            *Q,
            match="codec for bytes",
        )
    assert not (tmp_path / "r").exists()


def test_utf16_with_and_without_its_byte_order_mark(cli, tmp_path):
    bom = tmp_path / "bom.txt"
    bom.write_bytes("anna\nbob\ncarl\n".encode("utf-16"))
    expect_error(cli, "train", bom, "--out", tmp_path / "r", *Q, match="--encoding utf-16")
    code, _, err = cli("train", bom, "--out", tmp_path / "r", "--encoding", "utf-16", *Q)
    assert code == 0, err
    bare = tmp_path / "bare.txt"
    bare.write_bytes("anna\nbob\ncarl\n".encode("utf-16-le"))
    expect_error(
        cli,
        "train",
        bare,
        "--out",
        tmp_path / "r2",
        "--encoding",
        "utf-16",
        *Q,
        match="--encoding utf-16-le",
    )


# ----------------------------------------------------------------------------- flags


@pytest.mark.parametrize(
    "args",
    [
        ("sample", "@names", "--seed", "-1"),
        ("gradcheck", "--seed", "-1"),
        ("trace", "@names", "anna", "--top", "0"),
        ("experiment", "gap", "--jobs", "0"),
        ("demo", "--seeds", "0"),
    ],
)
def test_flags_below_their_range_are_usage_errors(args):
    r = run_cli_process(*args)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "expected a whole number of 1 or more" in r.stderr or "0 or more" in r.stderr


def test_demo_checks_its_flags_before_training(cli, tmp_path, monkeypatch):
    from charrnn.experiments import demo

    def trained(*args, **kwargs):
        raise AssertionError("the demo trained before checking its flags")

    monkeypatch.setattr(demo, "run_demo", trained)
    monkeypatch.setattr(demo, "vector_pair", trained)
    (tmp_path / "afile").write_text("x")
    for args, match in (
        (("--names-seconds", "0"), "--names-seconds"),
        (("--names-seconds", "inf"), "--names-seconds"),
        (("--page", "--port", "-5"), "--port"),
        (("--page", "--out", tmp_path / "afile"), "is a file"),
    ):
        expect_error(cli, "demo", *args, match=match)


def test_experiment_grids_that_cannot_fit_are_refused(cli):
    expect_error(cli, "experiment", "gap", "--gaps", "100000000", "--seeds", "1", match="at most")
    expect_error(cli, "experiment", "gap", "--hidden", "100000", match="at most")


def test_a_line_break_inside_a_word_is_refused(cli):
    expect_error(cli, "sample", "@names", "--prefix", "a\nb", match="line break")
    expect_error(cli, "score", "@names", "a\nb", match="line break")


# ----------------------------------------------------------------------------- runs


def test_a_run_that_stopped_before_its_first_save_names_the_way_out(cli, tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "config.json").write_text("{}")  # what a run killed in its first steps leaves
    expect_error(cli, "train", "@vector", "--out", run, *Q, match="--resume")
    err = expect_error(cli, "train", "@vector", "--out", run, "--resume", *Q, match="--force")
    assert "before its first save" in err
    code, _, err = cli("train", "@vector", "--out", run, "--force", *Q)
    assert code == 0, err


def test_a_damaged_metrics_log_is_named(cli, run):
    pytest.importorskip("matplotlib")
    log = run / "metrics.jsonl"
    good = log.read_bytes()
    for bad in (b"[1, 2]\n", b"\xff\xfe{\n", b"42\n"):
        log.write_bytes(good + bad)
        expect_error(cli, "plot", run, match="is not a JSON record")


# ----------------------------------------------------------------------------- the machine


@pytest.mark.parametrize(
    "exc, match",
    [
        (MemoryError("Unable to allocate 33.6 GiB"), "out of memory"),
        (OSError(errno.ENOSPC, "No space left on device", "r/latest.npz"), "no space left"),
        (UnicodeError("UTF-16 stream does not start with BOM"), "--encoding"),
    ],
)
def test_the_machines_refusals_are_messages(cli, monkeypatch, exc, match):
    from charrnn.cli import sample

    def refused(args):
        raise exc

    monkeypatch.setattr(sample, "run", refused)
    expect_error(cli, "sample", "@names", match=match)


def charrnn_into(stdout, *args, env=None) -> subprocess.CompletedProcess:
    """``charrnn ARGS`` as a process whose stdout is ``stdout`` (a file or descriptor)."""
    return subprocess.run(
        [sys.executable, "-m", "charrnn", *map(str, args)],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_stdout_is_a_message(tmp_path):
    # Without PYTHONUNBUFFERED the samples wait in the buffer until a flush: the
    # command's own, inside its error handling, not the interpreter's at exit.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    with open("/dev/full", "w") as full:
        r = charrnn_into(full, "sample", "@names", "-n", "3", env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "no space left on the device" in r.stderr and "Exception ignored" not in r.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_training_outlives_a_full_stdout(tmp_path):
    run = tmp_path / "r"
    args = ["train", "@vector", "--out", run, "--steps", "20", "--hidden", "4", "--log-every", "5"]
    with open("/dev/full", "w") as full:
        r = charrnn_into(full, *args)
    assert r.returncode == 0 and "stdout failed" in r.stderr, r.stderr
    assert (run / "latest.npz").is_file()


def test_a_console_that_cannot_show_hangul_shows_escapes():
    pty = pytest.importorskip("pty")
    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    r = charrnn_into(follower, "sample", "@ko", "-n", "2", env=env)
    os.close(follower)
    shown = os.read(leader, 4096).decode("ascii")
    os.close(leader)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "\\u" in shown


def test_a_file_or_pipe_that_cannot_hold_hangul_is_a_message():
    r = run_cli_process("sample", "@ko", "-n", "2", env={"PYTHONIOENCODING": "ascii"})
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "PYTHONIOENCODING=utf-8" in r.stderr and r.stdout == ""


def test_an_empty_out_and_an_out_named_like_a_model(cli, tmp_path, monkeypatch):
    expect_error(cli, "train", "@vector", "--out", "", *Q, match="--out is empty")
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("train", "@vector", "--out", "@mine", "--steps", "2", "--hidden", "4")
    assert code == 0 and "read this run back as ./@mine" in err, err
    assert (tmp_path / "@mine" / "latest.npz").is_file()


def test_messages_name_the_flags_a_user_types(cli):
    expect_error(cli, "complete", "@names", "kri", "-k", "0", match="-k must be between")
    expect_error(cli, "complete", "@names", "kri", "--beam", "0", match="--beam must be")


def test_composing_jamo_is_not_called_skipping(cli):
    code, _, err = cli("sample", "@ko", "-n", "2", "--prefix", "\u1100\u1161", "--unknown", "skip")
    assert code == 0 and "skipped" not in err, err
    code, _, err = cli("sample", "@ko", "-n", "2", "--prefix", "\u1100\u1161x", "--unknown", "skip")
    assert code == 0 and "skipped 'x'" in err, err


def test_force_leaves_only_the_token_cache_it_reads(cli, tmp_path):
    run = tmp_path / "r"
    text = ["--mode", "text", "--seq-len", "8", *Q]
    for name, line in (("a.txt", "hello world, once more\n"), ("b.txt", "other text in here\n")):
        (tmp_path / name).write_text(line * 40)
        code, _, err = cli("train", tmp_path / name, "--out", run, "--force", *text)
        assert code == 0, err
        assert len(list(run.glob("tokens-*.bin"))) == 1, name  # each a whole corpus
    code, _, err = cli("train", tmp_path / "b.txt", "--out", run, "--force", *text)
    assert code == 0 and len(list(run.glob("tokens-*.bin"))) == 1, err


def test_plot_refuses_to_draw_over_its_own_log(cli, run):
    before = (run / "metrics.jsonl").read_bytes()
    expect_error(cli, "plot", run, "--out", run / "metrics.jsonl", match="reads")
    assert (run / "metrics.jsonl").read_bytes() == before


def test_an_output_ending_in_a_slash_is_a_folder(cli, run, tmp_path):
    expect_error(
        cli, "export", run, "--to", "safetensors", f"{tmp_path}/results/", match="names a folder"
    )
    assert not (tmp_path / "results").exists()


def test_utf32_is_named_as_utf32(cli, tmp_path):
    f = tmp_path / "w.txt"
    f.write_bytes("anna\nbob\n".encode("utf-32"))
    expect_error(cli, "train", f, "--out", tmp_path / "r", *Q, match="--encoding utf-32")


@pytest.mark.parametrize(
    "args, shown",
    [
        (("score", "--json", "--", "@shakespeare", "-a word"), '"-a word"'),
        (("complete", "-k", "2", "--max-len", "3", "--", "@shakespeare", "-th"), "-th"),
        (("trace", "--top", "2", "--", "@shakespeare", "-ab"), "'-'"),
    ],
)
def test_words_that_start_with_a_dash_follow_a_double_dash(cli, args, shown):
    code, out, err = cli(*args)
    assert code == 0 and shown in out, err


def test_an_empty_host_is_refused(cli, monkeypatch):
    from charrnn.cli import serve

    def served(*args, **kwargs):
        raise AssertionError("an empty host was served (on every interface)")

    monkeypatch.setattr(serve, "serve_until_stopped", served)
    expect_error(cli, "serve", "@names", "--host", "", "--port", "0", match="the host is empty")
    expect_error(cli, "demo", "--page", "--host", "", match="--host is empty")


def test_the_demo_page_removes_the_folder_it_made(cli, monkeypatch):
    from charrnn import CharRNNError
    from charrnn.experiments import demo

    made = []

    def stops(out, **kwargs):
        made.append(out)
        (pathlib.Path(out) / "full").mkdir()
        raise CharRNNError("stopped here")

    monkeypatch.setattr(demo, "vector_pair", stops)
    expect_error(cli, "demo", "--page", match="stopped here")
    assert made and not os.path.exists(made[0])


def test_a_byte_that_is_not_utf8_is_named_by_a_jamo_model(cli):
    # Read with errors="surrogateescape", it reached the jamo decomposition's UTF-32
    # encode, and the message blamed the output's encoding.
    expect_error(cli, "score", "@ko", "\udcff가", match="not in the model's vocabulary")
