"""``charrnn export``: what it writes, and the mistakes it refuses with one line and no file."""

from __future__ import annotations

import sys

import pytest

from charrnn.common.errors import CharRNNError
from charrnn.export import export_model, scorer_path
from tests.conftest import run_cli_process
from tests.export.models import random_model


@pytest.fixture
def run(tmp_path):
    path = tmp_path / "m.npz"
    random_model("gru", 1, "char", "words").save(path)
    return path


def test_scorer_path_sits_beside_the_step_graph():
    assert scorer_path("out/names.onnx") == "out/names.scorer.onnx"
    assert scorer_path("names") == "names.scorer.onnx"


def test_a_missing_run_is_one_line_and_no_file(cli, tmp_path):
    code, out, err = cli("export", tmp_path / "nope", "--to", "safetensors", tmp_path / "m.st")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("charrnn export: error:")
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_format_is_refused_with_the_choices(cli, run, capsys):
    with pytest.raises(SystemExit) as exc:
        cli("export", run, "--to", "tflite", run.with_suffix(".tflite"))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'tflite'" in err and "'onnx', 'torch', 'safetensors'" in err
    with pytest.raises(CharRNNError, match="choose one of onnx, torch, safetensors"):
        export_model(random_model("rnn", 1, "char", "words"), run.with_suffix(".x"), "tflite")


@pytest.mark.parametrize(
    ("to", "module", "advice"),
    [
        ("onnx", "onnx", "exporting to ONNX needs onnx: pip install 'charrnn[export]'"),
        ("torch", "torch", "charrnn export --to torch needs torch: pip install torch"),
    ],
)
def test_a_missing_package_says_what_to_install_and_leaves_the_old_file(
    cli, run, monkeypatch, to, module, advice
):
    monkeypatch.setitem(sys.modules, module, None)  # import fails, as when not installed
    out = run.with_name("out")
    out.write_text("old")
    code, printed, err = cli("export", run, "--to", to, out)
    assert code == 2 and printed == ""
    assert err == f"charrnn export: error: {advice}\n"
    assert out.read_text() == "old"
    assert sorted(p.name for p in run.parent.iterdir()) == ["m.npz", "out"]


def test_safetensors_needs_neither_onnx_nor_torch(cli, run, monkeypatch):
    for module in ("onnx", "torch", "safetensors"):
        monkeypatch.setitem(sys.modules, module, None)
    code, out, _ = cli("export", run, "--to", "safetensors", run.with_suffix(".safetensors"))
    assert code == 0 and out.split() == [str(run.with_suffix(".safetensors"))]


def test_a_missing_folder_is_refused_before_anything_is_written(cli, run):
    pytest.importorskip("onnx")
    code, _, err = cli("export", run, "--to", "onnx", run.parent / "no" / "m.onnx")
    assert code == 2 and "its folder" in err and "does not exist" in err
    assert sorted(p.name for p in run.parent.iterdir()) == ["m.npz"]


@pytest.mark.parametrize("to", ["onnx", "torch", "safetensors"])
def test_a_cell_with_no_torch_twin_is_refused(cli, tmp_path, to):
    # "irnn" is the test suite's own cell (tests/cells_fixture.py): a ReLU recurrence
    # that neither torch.nn's modules nor the ONNX graphs here compute.
    path = tmp_path / "m.npz"
    random_model("irnn", 1, "char", "words").save(path)
    code, _, err = cli("export", path, "--to", to, tmp_path / "out")
    assert code == 2 and "the irnn cell has no torch.nn twin" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


@pytest.mark.parametrize("to", ["onnx", "torch", "safetensors"])
def test_a_jamo3_model_is_refused_and_nothing_is_written(cli, tmp_path, to):
    """Catches an export that drops jamo3's factored head and writes a useless file."""
    from charrnn import CharRNN

    path = tmp_path / "m.npz"
    CharRNN(units="jamo3", hidden=8, steps=3, val_fraction=0, random_state=0).fit(
        ["사랑", "하늘"]
    ).save(path)
    code, _, err = cli("export", path, "--to", to, tmp_path / "out")
    assert code == 2 and "jamo3 models cannot be exported" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_a_folder_given_as_the_output_is_refused(cli, run):
    code, _, err = cli("export", run, "--to", "safetensors", run.parent)
    assert code == 2 and "is a folder" in err


def test_an_untrained_model_is_refused():
    from charrnn import CharRNN

    with pytest.raises(CharRNNError, match="not trained yet"):
        export_model(CharRNN(), "m.safetensors", "safetensors")


@pytest.mark.slow
def test_the_command_as_a_process_prints_no_traceback(tmp_path):
    result = run_cli_process("export", tmp_path / "nope.npz", "--to", "onnx", tmp_path / "m.onnx")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("charrnn export: error:") and result.stderr.count("\n") == 1
