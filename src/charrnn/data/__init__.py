"""Data: reading files as they come, the train/validation split, batches, the token cache.

The names of the first layout's ``charrnn.data`` module stay importable from here.
"""

from .batches import Batch, TextBatches, WordBatches
from .files import builtin_names, corpus_chars, empty_text_error, iter_text, load_corpus, read_text
from .split import MAX_WORD_LEN, split_corpus, split_text, split_train_val, split_words

__all__ = [
    "MAX_WORD_LEN",
    "Batch",
    "TextBatches",
    "WordBatches",
    "builtin_names",
    "corpus_chars",
    "empty_text_error",
    "iter_text",
    "load_corpus",
    "read_text",
    "split_corpus",
    "split_text",
    "split_train_val",
    "split_words",
]
