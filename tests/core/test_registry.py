"""The one registry of cells: names, lookups, what registering refuses, and the fallback
that tells a cell from its parameters only when exactly one fits."""

from __future__ import annotations

import numpy as np
import pytest

from charrnn import CharRNNError, Config
from charrnn.core import config
from charrnn.core.cells import TANH, Cell, TanhCell, cell_names, cell_of, get_cell, register
from charrnn.core.cells import registry as registry_module
from charrnn.core.model import init_params


def test_the_built_in_cells_come_first_and_every_name_finds_its_cell():
    assert cell_names()[:3] == ("rnn", "gru", "lstm")
    for name in cell_names():
        cell = get_cell(name)
        assert isinstance(cell, Cell) and cell.name == name and get_cell(cell) is cell
    with pytest.raises(ValueError, match="unknown cell 'transformer'; choose one of rnn, gru"):
        get_cell("transformer")


def test_the_config_offers_exactly_the_registered_cells():
    assert tuple(config.CELLS) == cell_names()  # a live view, not a list of its own
    for name in cell_names():
        assert Config(cell=name).cell == name
    with pytest.raises(CharRNNError, match="cell must be one of"):
        Config(cell="tcn")


def test_registering_checks_the_name_the_contract_and_a_taken_name(monkeypatch):
    monkeypatch.setattr(registry_module, "_CELLS", dict(registry_module._CELLS))
    assert register("rnn", TANH) is TANH  # the same cell again: a module imported twice
    with pytest.raises(ValueError, match="already registered"):
        register("rnn", TanhCell())
    with pytest.raises(ValueError, match="must be called so"):
        register("tanh2", TanhCell())
    with pytest.raises(TypeError, match="cell contract"):
        register("half", object())

    class Renamed(TanhCell):
        name = "tanh2"

    register("tanh2", Renamed())
    assert "tanh2" in cell_names() and "tanh2" in config.CELLS


def test_cell_of_finds_the_one_cell_that_fits_and_refuses_to_guess(monkeypatch):
    for name in cell_names():
        params = init_params(5, 3, np.random.default_rng(0), layers=2, cell=name)
        assert cell_of(params) is get_cell(name)
    params = init_params(5, 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="no registered cell"):
        cell_of({k: v for k, v in params.items() if k != "bh"})
    with pytest.raises(ValueError, match="no registered cell"):
        cell_of({**params, "Whh": np.zeros((4, 4))})  # the name fits, the shape does not
    monkeypatch.setattr(registry_module, "_CELLS", dict(registry_module._CELLS))

    class Twin(TanhCell):  # the tutorial's names, another recurrence
        name = "twin"

    register("twin", Twin())
    with pytest.raises(ValueError, match=r"more than one cell \(rnn, twin\)"):
        cell_of(params)
