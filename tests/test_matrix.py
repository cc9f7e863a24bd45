"""Every surface a user touches, for every cell, unit kind and mode: a matrix, not a sample.

Capabilities built one at a time break where they meet (the page once failed for gated
cells and for jamo text while each worked alone), so each (cell, units, mode) trains a
tiny model once per test process, and every surface runs on it: train, resume, sample,
complete, score, trace, eval, the page's views, ``viz``, and MPI ranks where MPI runs.
The cells come from the registry, so a newly registered cell joins the matrix unedited.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import itertools
import json
import math
import pathlib

import numpy as np
import pytest

from charrnn import CharRNN
from charrnn.cli import main
from charrnn.core.cells import cell_names
from charrnn.core.vocab import FINALS, INITIALS, MEDIALS
from charrnn.viz.page import influence_row, payload

UNITS = ("char", "jamo", "jamo3")
MODES = ("words", "text")
COMBOS = list(itertools.product(cell_names(), UNITS, MODES))  # with the suite's own cells
IDS = [f"{c}-{u}-{m}" for c, u, m in COMBOS]

EN_WORDS = "ada bo cyrus dee eli fay gus hal ivy jo kai lou max ned oda pia quin rex".split()
KO_WORDS = (
    "가격 가끔 가난 가능 가방 나무 노래 다리 바다 사과 하늘 학교 한글 강물 꽃잎 닭고기".split()
)
LOOSE_JAMO = set(INITIALS) | set(MEDIALS) | set(FINALS)


def corpus(units: str, mode: str) -> str:
    words = EN_WORDS if units == "char" else KO_WORDS
    if mode == "words":
        return "\n".join(words * 2) + "\n"
    return " ".join(words * 6) + "\n"


def train_flags(cell: str, units: str, mode: str) -> list[str]:
    flags = ["--cell", cell, "--mode", mode, "--hidden", "8", "--seed", "3"]
    flags += ["--batch-size", "3", "--seq-len", "6", "--schedule", "constant"]
    flags += ["--val-fraction", "0.2", "--log-every", "2", "--dtype", "float64", "--quiet"]
    flags += ["--weight-drop", "0.25"]  # its masks too must survive a resume and the ranks
    flags += ["--dropout", "0.2", "--dropout-masks", "sequence"]  # and one mask per sequence
    if units != "char":
        flags += ["--units", units]
    return flags


def run_cli(*args: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(cell, units, mode) -> (run directory, data file), each trained on first use."""
    root = tmp_path_factory.mktemp("matrix")
    made: dict[tuple[str, str, str], tuple[pathlib.Path, pathlib.Path]] = {}

    def get(cell: str, units: str, mode: str) -> tuple[pathlib.Path, pathlib.Path]:
        key = (cell, units, mode)
        if key not in made:
            data = root / f"{cell}-{units}-{mode}.txt"
            data.write_text(corpus(units, mode), encoding="utf-8")
            run = root / f"{cell}-{units}-{mode}"
            code, _, err = run_cli("train", data, "--out", run, "--steps", "6", *train_flags(*key))
            assert code == 0, err
            made[key] = (run, data)
        return made[key]

    return get


def probe(units: str) -> str:
    return "kai" if units == "char" else "가방"


combos = pytest.mark.parametrize(("cell", "units", "mode"), COMBOS, ids=IDS)


@combos
def test_train_writes_a_model_that_loads_as_its_cell(runs, cell, units, mode):
    run, _ = runs(cell, units, mode)
    assert (run / "latest.npz").is_file() and (run / "best.npz").is_file()
    model = CharRNN.load(run)
    assert model.get_config().cell == cell and model.get_config().units == units


@combos
def test_resume_is_bit_identical(runs, tmp_path, cell, units, mode):
    _, data = runs(cell, units, mode)
    flags = train_flags(cell, units, mode)
    one, two = tmp_path / "one", tmp_path / "two"
    assert run_cli("train", data, "--out", one, "--steps", "6", *flags)[0] == 0
    assert run_cli("train", data, "--out", two, "--steps", "3", *flags)[0] == 0
    code, _, err = run_cli("train", data, "--out", two, "--steps", "6", "--resume", *flags)
    assert code == 0, err
    with np.load(one / "latest.npz") as a, np.load(two / "latest.npz") as b:
        assert set(a.files) == set(b.files) and any(k.startswith("optim/") for k in a.files)
        steps = [json.loads(f["meta"].tobytes())["step"] for f in (a, b)]
        assert steps == [6, 6]
        for k in set(a.files) - {"meta"}:  # meta holds the wall clock too
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@combos
def test_sample_gives_whole_words(runs, cell, units, mode):
    run, _ = runs(cell, units, mode)
    code, out, err = run_cli("sample", run, "-n", "4", "--seed", "1", "--max-len", "12")
    assert code == 0, err
    if mode == "words":
        assert len(out.splitlines()) == 4 and all(out.splitlines())
    if units != "char":  # the grammar (jamo) or the factored head (jamo3): whole syllables
        assert not LOOSE_JAMO & set(out), out


@combos
def test_complete_ranks_completions_by_probability(runs, cell, units, mode):
    run, _ = runs(cell, units, mode)
    code, out, err = run_cli(
        "complete", run, probe(units)[0], "-k", "3", "--max-len", "4", "--json"
    )
    assert code == 0, err
    found = json.loads(out)["completions"]
    logps = [c["logprob"] for c in found]
    assert found and logps == sorted(logps, reverse=True) and all(lp <= 0 for lp in logps)


@combos
def test_score_and_trace_agree_with_the_api(runs, cell, units, mode):
    run, _ = runs(cell, units, mode)
    text = probe(units)
    code, out, err = run_cli("score", run, text, "--json")
    assert code == 0, err
    logprob = json.loads(out)["scores"][0]["logprob"]
    model = CharRNN.load(run)
    assert math.isclose(logprob, model.score_details([text])[0].logprob, rel_tol=1e-12)
    code, out, err = run_cli("trace", run, text)
    assert code == 0, err
    assert "Traceback" not in err and out.count("t=") >= len(text)


@combos
def test_eval_reads_a_file(runs, cell, units, mode):
    run, data = runs(cell, units, mode)
    code, out, err = run_cli("eval", run, data, "--json")
    assert code == 0, err
    loss = json.loads(out)
    assert all(math.isfinite(v) for v in loss.values() if isinstance(v, float))


@combos
def test_the_pages_views(runs, cell, units, mode):
    run, _ = runs(cell, units, mode)
    model = CharRNN.load(run)
    text = probe(units) * 2
    data = payload(model, text, with_influence=True)
    assert data["layers"] == model.get_config().layers
    row = influence_row(model, text, len(text) - 1)
    shades = [x for x in row if x is not None]
    assert shades and all(math.isfinite(x) and x >= 0 for x in shades)
    # the page's reading is charrnn score's: one probability per shown character
    assert len(model.read(text).probs) >= len(text)


@combos
def test_viz_writes_the_page(runs, tmp_path, cell, units, mode):
    run, _ = runs(cell, units, mode)
    out = tmp_path / "page.html"
    code, _, err = run_cli("viz", run, probe(units) * 2, "--out", out)
    assert code == 0, err
    assert out.read_text(encoding="utf-8").lower().startswith("<!doctype html>")


@pytest.fixture(scope="module")
def mpi():
    """The launcher of tests/training/test_mpi.py, or a skip saying why MPI cannot run."""
    from tests.training import test_mpi

    test_mpi.skip_unless_mpi()
    return test_mpi


@pytest.mark.long  # two MPI processes per combination: 16 jobs, ~30 s; CI runs them
@pytest.mark.slow
@combos
def test_mpi_ranks_train_the_model_one_process_trains(runs, mpi, tmp_path, cell, units, mode):
    run, data = runs(cell, units, mode)
    ranks = tmp_path / "ranks"
    flags = train_flags(cell, units, mode)
    r = mpi.launch(
        2, "train", data, "--out", ranks, "--steps", "6", *flags, module="tests.fixture_cli"
    )
    assert r.returncode == 0, r.stderr
    mpi.assert_close(mpi.params(run), mpi.params(ranks), 1e-10)


def test_every_surface_takes_the_cell_from_the_config_not_the_weights(runs, monkeypatch, tmp_path):
    """A second cell with the tanh cell's weight names makes guessing from weights fail
    (cell_of refuses), so a surface that still guessed would raise here."""
    from charrnn.core.cells import TanhCell, registry

    class Twin(TanhCell):
        name = "twin"

    monkeypatch.setitem(registry._CELLS, "twin", Twin())
    run, _ = runs("rnn", "char", "words")
    model = CharRNN.load(run)
    text = probe("char") * 2
    payload(model, text, with_influence=True)
    influence_row(model, text, 3)
    assert model.score_details([text]) and model.sample(2) and model.complete("k", k=2)
    assert model.trace(text) and math.isfinite(model.evaluate([text]).nats)
    for args in (["viz", run, text, "--out", tmp_path / "p.html"], ["trace", run, text]):
        code, _, err = run_cli(*args)
        assert code == 0, err
    if importlib.util.find_spec("matplotlib") is not None:
        code, _, err = run_cli("viz", run, text, "--out", tmp_path / "q.html", "--png")
        assert code == 0, err
