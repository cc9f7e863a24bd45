"""The engine computes through the backend's ``xp`` namespace, so another array
library with numpy's interface can be plugged in without touching the math."""

from __future__ import annotations

import types
from collections import Counter

import numpy as np
import pytest

from charrnn import CharRNNError, Config, Vocab
from charrnn.core.backend import Backend, get_backend
from charrnn.training.trainer import Trainer


def counting_numpy(calls: Counter) -> types.ModuleType:
    """A stand-in array module: numpy, with the engine's hot functions counted."""
    xp = types.ModuleType("countingnumpy")
    xp.__dict__.update({k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
    for name in ("matmul", "tanh", "exp", "log", "zeros", "empty", "ascontiguousarray"):
        real = getattr(np, name)

        def counted(*args, _real=real, _name=name, **kwargs):
            calls[_name] += 1
            return _real(*args, **kwargs)

        setattr(xp, name, counted)
    return xp


@pytest.mark.parametrize("mode", ["words", "text"])
def test_training_goes_through_the_backend_and_matches_numpy(mode):
    data = ["anna", "bob", "carla", "dave"] * 5 if mode == "words" else "abcab cabba " * 30
    vocab = Vocab.from_text("".join(data))
    cfg = Config(
        mode=mode,
        hidden=8,
        layers=2,
        steps=5,
        seq_len=8,
        batch_size=4,
        val_fraction=0,
        dtype="float64",
        log_every=10**9,
        kernels="numpy",  # the stand-in namespace runs the numpy cells: compare like with like
    )
    calls: Counter = Counter()
    fake = Backend("numpy", counting_numpy(calls))
    a = Trainer(cfg, vocab, data, None, backend=fake)
    b = Trainer(cfg, vocab, data, None)
    a.run()
    b.run()
    assert calls["matmul"] > 0 and calls["tanh"] > 0 and calls["exp"] > 0
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


def test_unknown_or_missing_backend_is_a_clear_error():
    with pytest.raises(CharRNNError, match="unknown backend"):
        get_backend("tpu")
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(CharRNNError, match="CuPy"):
            get_backend("cupy")
