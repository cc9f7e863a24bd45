"""charrnn: a character-level vanilla-RNN language model on numpy, with hand-derived BPTT."""

__version__ = "0.1.0"  # before the imports: modules below read it

from .api import CharRNN
from .config import Config
from .errors import CharRNNError
from .evaluate import Loss
from .sample import Score
from .vocab import Vocab

__all__ = ["CharRNN", "CharRNNError", "Config", "Loss", "Score", "Vocab"]
