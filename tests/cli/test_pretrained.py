"""``@name`` on the command line: a shipped model where a command reads a model, a
built-in corpus where it reads data, and one message for a name that is neither."""

from __future__ import annotations

import json

import pytest

from charrnn import CharRNN
from tests.conftest import run_cli_process


def test_sample_complete_score_on_the_shipped_models(cli):
    code, out, _ = cli("sample", "@names", "-n", "5", "--seed", "0")
    assert code == 0 and out.splitlines() == CharRNN.load("@names").sample(5, random_state=0)
    code, out, err = cli("complete", "@names", "kri", "-k", "3")
    assert code == 0 and "exact" in err
    lines = [line.split("\t") for line in out.splitlines()]
    assert len(lines) == 3 and all(w.startswith("kri") and 0 < float(p) < 1 for w, p in lines)
    code, out, _ = cli("score", "@ko", "사랑", "--json")
    [s] = json.loads(out)["scores"]
    assert code == 0 and s["text"] == "사랑" and s["logprob"] < 0
    code, out, _ = cli("sample", "@shakespeare", "-n", "1", "--prefix", "KING", "--max-len", "80")
    assert code == 0 and out.startswith("KING") and len(out.rstrip("\n")) >= 40


def test_eval_reads_the_model_by_name_and_the_data_by_name(cli):
    """``charrnn eval @names @names``: the first is the model, the second the corpus."""
    code, out, err = cli("eval", "@names", "--json")
    held = json.loads(out)
    assert code == 0 and "held-out split of @names: 682 lines" in err
    code, out, _ = cli("eval", "@names", "@names", "--json")
    whole = json.loads(out)
    assert code == 0 and whole["chars"] > 9 * held["chars"]
    # On the whole corpus, most of it trained on, the loss is lower than held out.
    assert whole["nats_per_char"] < held["nats_per_char"]


@pytest.mark.parametrize(
    "command",
    [
        ["sample"],
        ["score", "x"],
        ["trace", "x"],
        ["viz", "x", "--out", "x.html"],
        ["serve"],
        ["complete"],
        ["eval"],
        ["export", "--to", "safetensors", "x.safetensors"],
    ],
    ids=lambda c: c[0],
)
def test_an_unknown_name_lists_the_models(cli, command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(command[0], "@shakespear", *command[1:])
    assert code == 2 and out == ""
    assert "no pretrained model @shakespear" in err and "@ko, @names, @shakespeare" in err
    assert "Traceback" not in err and list(tmp_path.iterdir()) == []


def test_info_lists_the_models(cli):
    code, out, _ = cli("info")
    assert code == 0 and "pretrained models: @ko, @names, @shakespeare" in out


@pytest.mark.slow
def test_a_fresh_process_elsewhere_finds_the_models(tmp_path):
    """As straight after install: nothing trained, another working directory."""
    r = run_cli_process("complete", "@names", "kri", "-k", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert [line.split("\t")[0][:3] for line in r.stdout.splitlines()] == ["kri", "kri"]
    r = run_cli_process("sample", "--help", cwd=tmp_path)
    assert "@ko, @names, @shakespeare" in " ".join(r.stdout.split())
    assert list(tmp_path.iterdir()) == []  # nothing written
