"""safetensors: the hand-written file reads back in the ``safetensors`` package, whole."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from charrnn.export.layout import torch_state
from charrnn.export.safetensors_file import safetensors_bytes

from .models import CELLS, random_model

safetensors_numpy = pytest.importorskip("safetensors.numpy", reason="pip install safetensors")
safe_open = pytest.importorskip("safetensors").safe_open


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_package_reads_the_weights_and_the_metadata(cli, tmp_path, cell, dtype):
    model = random_model(cell, 2, "jamo", "words", dtype=dtype)
    model.save(tmp_path / "m.npz")
    out = tmp_path / "m.safetensors"
    code, printed, err = cli("export", tmp_path / "m.npz", "--to", "safetensors", out)
    assert code == 0 and printed.split() == [str(out)], err
    tensors = safetensors_numpy.load_file(str(out))
    expected = torch_state(model.params_, cell)
    assert set(tensors) == set(expected)
    for name, array in expected.items():
        assert tensors[name].dtype == np.dtype(dtype)
        assert np.array_equal(tensors[name], array), name
    with safe_open(str(out), "np") as f:
        meta = f.metadata()
    assert json.loads(meta["vocab"]) == model.vocab_.itos  # jamo, as UTF-8 JSON
    assert json.loads(meta["units"]) == {"kind": "jamo", "normalize": "nfc"}
    assert json.loads(meta["config"])["cell"] == cell and meta["cell"] == cell
    assert int(meta["layers"]) == 2 and meta["mode"] == "words"


def test_the_layout_is_the_formats():
    """Header length, an 8-byte aligned start of the data, offsets back to back."""
    tensors = {"b": np.arange(3, dtype=np.float32), "a": np.ones((2, 2))}
    data = safetensors_bytes(tensors, {"k": "v"})
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0
    header = json.loads(data[8 : 8 + n])
    assert header["__metadata__"] == {"k": "v"}
    assert header["b"] == {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}
    assert header["a"] == {"dtype": "F64", "shape": [2, 2], "data_offsets": [12, 44]}
    assert len(data) == 8 + n + 44
    back = safetensors_numpy.load(data)
    assert np.array_equal(back["a"], tensors["a"]) and np.array_equal(back["b"], tensors["b"])
