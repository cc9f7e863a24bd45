"""charrnn: a character-level RNN language model (tanh RNN, GRU, LSTM) on numpy, with
hand-derived backpropagation through time.

The package is laid out in layers, each importing only from those below it:
``common`` (errors, files), ``core`` (vocabulary, cells, model, optimisers), ``data``,
``training``, ``generation`` (sampling, scoring, completions, views), the API
(:class:`CharRNN`), and the faces: ``viz`` (the learner's page and pictures),
``experiments`` and ``cli``. See docs/architecture.md.
"""

from typing import Any

from . import _moved
from .api import CharRNN, Evaluation
from .common.errors import CharRNNError
from .common.version import __version__
from .core.config import Config
from .core.vocab import Vocab
from .generation.sample import Score
from .training.evaluate import Loss

_moved.install()

__all__ = [
    "CharRNN",
    "CharRNNError",
    "Config",
    "Evaluation",
    "Loss",
    "Score",
    "Vocab",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # ``charrnn.model`` and the other paths of the first layout, found on first use.
    if name in _moved.MOVED:
        return _moved.load(name)
    raise AttributeError(f"module 'charrnn' has no attribute {name!r}")
