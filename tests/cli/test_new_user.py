"""What trying the commands as a new user turned up (issue 23, item 3): each one a test."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from charrnn.cli import main

Q = ["--steps", "2", "--hidden", "4", "--quiet"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("new-user") / "run"
    assert main(["train", "@vector", "--out", str(path), *Q]) == 0
    return path


def _piped_into_early_close(*args: str) -> subprocess.CompletedProcess:
    """``charrnn ARGS | head -1``: the reader takes one line and closes the pipe."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "charrnn", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what head does once it has its lines
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, first.decode(), err)


# Far more output than a pipe buffer holds (64 KiB), so the writer meets the closed pipe.
@pytest.mark.parametrize(
    "args",
    [
        ("sample", "{run}", "-n", "100000"),
        ("trace", "{run}", "vector" * 300),
    ],
    ids=["sample", "trace"],
)
def test_a_reader_that_closes_early_ends_the_command_quietly(run, args):
    done = _piped_into_early_close(*(a.format(run=run) for a in args))
    assert done.stdout  # it did print before the reader left
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    # 128 + SIGPIPE, as `yes | head -1` ends: the output was cut short, not delivered.
    assert done.returncode == 141, (done.returncode, done.stderr)


def _parse_error(capsys, *argv: str) -> str:
    # "--out r" stays relative to a scratch folder: were a flag ever taken, as
    # --unit was for --units, the run must not land in the checkout.
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    assert info.value.code == 2
    return capsys.readouterr().err


@pytest.fixture
def in_scratch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("in_scratch")
def test_a_misspelt_flag_gets_a_suggestion(capsys):
    err = _parse_error(capsys, "train", "@vector", "--out", "r", "--hiden", "64")
    assert "unrecognized arguments: --hiden" in err and "did you mean --hidden?" in err
    err = _parse_error(capsys, "train", "@vector", "--out", "r", "--hiden=64")
    assert "did you mean --hidden?" in err


@pytest.mark.usefixtures("in_scratch")
def test_a_flag_is_never_taken_from_its_abbreviation(capsys):
    err = _parse_error(capsys, "train", "@vector", "--out", "r", "--unit", "jamo")
    assert "unrecognized arguments: --unit" in err and "did you mean --units?" in err
    err = _parse_error(capsys, "sample", "r", "--temp", "0.5")
    assert "did you mean --temperature?" in err
    err = _parse_error(capsys, "experiment", "gap", "--seed", "1", "--see", "2")
    assert "did you mean --seed" in err


@pytest.mark.usefixtures("in_scratch")
def test_a_misspelt_command_or_choice_gets_a_suggestion(capsys):
    err = _parse_error(capsys, "sampel", "r")
    assert "invalid choice: 'sampel'" in err and "did you mean 'sample'?" in err
    err = _parse_error(capsys, "train", "@vector", "--out", "r", "--cell", "lstn")
    assert "did you mean 'lstm'?" in err
    err = _parse_error(capsys, "experiment", "gapp")
    assert "did you mean 'gap'?" in err


def test_only_new_names_the_number_the_user_typed(run, cli):
    code, _, err = cli("sample", run, "-n", "60000", "--only-new", "--max-len", "1000")
    assert code == 2 and "120000" not in err and "Traceback" not in err
    assert "60000" in err or "60,000" in err, err
    code, _, err = cli("sample", run, "-n", "200000", "--only-new")
    assert code == 2 and "-n must be between 1 and 100,000; got 200000" in err, err


def test_only_new_draws_large_counts_within_the_sampler_limits(run, cli):
    code, out, err = cli("sample", run, "-n", "60000", "--only-new", "--max-len", "8")
    assert code == 0, err
    assert len(out.splitlines()) <= 60000


def test_experiment_png_dir_is_created_like_train_out(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    target = tmp_path / "new" / "pictures"
    args = ["experiment", "gap", "--gaps", "1", "--seeds", "1", "--steps", "5"]
    args += ["--words", "40", "--test-words", "20", "--norm-gap", "1", "--jobs", "1"]
    assert main([*args, "--quiet", "--png-dir", str(target)]) == 0, capsys.readouterr().err
    assert sorted(p.name for p in target.iterdir()) == ["gap-norms.png", "gap-success.png"]
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main([*args, "--quiet", "--png-dir", str(afile)]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a directory" in err and "Traceback" not in err


def test_trace_labels_the_loss_by_the_models_units(tmp_path, cli):
    code, _, err = cli("train", "@ko-words", "--units", "jamo", "--out", tmp_path / "ko", *Q)
    assert code == 0, err
    code, out, _ = cli("trace", tmp_path / "ko", "가격")
    assert code == 0 and "nats/jamo" in out and "nats/char" not in out
    code, out, _ = cli("train", "@vector", "--out", tmp_path / "v", *Q)
    code, out, _ = cli("trace", tmp_path / "v", "vector")
    assert code == 0 and "nats/char" in out


def test_prose_in_words_mode_gets_a_hint_to_use_text_mode(cli, tmp_path):
    prose = tmp_path / "story.txt"
    line = "It was the best of times, it was the worst of times, it was the age of wisdom"
    prose.write_text("\n".join(f"{line} {i}" for i in range(40)) + "\n")
    code, _, err = cli("train", prose, "--out", tmp_path / "r", "--steps", "2", "--hidden", "4")
    assert code == 0, err
    assert "looks like running text" in err and "train with --mode text" in err
    # Names, or text mode itself, get no such hint.
    code, _, err = cli("train", "@names", "--out", tmp_path / "n", "--steps", "2", "--hidden", "4")
    assert code == 0 and "running text" not in err
    code, _, err = cli(
        "train", prose, "--mode", "text", "--out", tmp_path / "t", "--steps", "2", "--hidden", "4"
    )
    assert code == 0 and "running text" not in err


def test_a_commands_words_may_follow_its_flags(cli, capsys, tmp_path):
    # argparse alone filled the optional PREFIX or TEXT before it saw them, then called
    # them unrecognised arguments.
    assert (
        cli("complete", "@names", "-k", "3", "kri")[1]
        == cli("complete", "@names", "kri", "-k", "3")[1]
    )
    code, out, err = cli("viz", "@names", "--out", tmp_path / "v.html", "anna")
    assert code == 0 and (tmp_path / "v.html").is_file(), err
    code, out, err = cli("eval", "@names", "--json", "@names")
    assert code == 0 and '"nats_per_char"' in out, err
    with pytest.raises(SystemExit) as e:
        main(["complete", "@names", "-k", "3", "kri", "--beem", "2"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "unrecognized arguments: --beem 2; did you mean --beam?" in err
