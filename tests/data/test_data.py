from __future__ import annotations

import numpy as np
import pytest

from charrnn import CharRNNError, Vocab
from charrnn.data.batches import TextBatches, WordBatches
from charrnn.data.files import read_text
from charrnn.data.split import split_text, split_train_val, split_words


def test_word_batches_read_boundary_first_and_predict_boundary_last():
    words = ["ab", "c", "abca"]
    v = Vocab.from_text("abc")
    wb = WordBatches(words, v, batch_size=3, seed=0)
    b = wb.make(np.array([0, 1, 2]))
    assert b.inputs.shape == (5, 3) and b.n_targets == 3 + 2 + 5
    for col, w in enumerate(words):
        n = len(w) + 1
        assert v.decode(b.inputs[:n, col]) == "\n" + w
        assert v.decode(b.targets[:n, col]) == w + "\n"
        assert b.mask[:n, col].all() and not b.mask[n:, col].any()


def test_every_word_once_per_epoch_and_grouped_by_length(rng):
    words = ["x" * int(k) for k in rng.integers(1, 30, size=1000)]
    wb = WordBatches(words, Vocab.from_text("x"), batch_size=16, seed=3)
    order = wb.epoch_order(0)
    seen = np.sort(np.concatenate(order))
    np.testing.assert_array_equal(seen, np.arange(1000))
    padding = sum(wb.lengths[i].max() * len(i) - wb.lengths[i].sum() for i in order)
    assert padding < 0.1 * wb.n_targets  # length grouping keeps padding small
    assert [list(a) for a in wb.epoch_order(0)] == [list(a) for a in order]  # deterministic
    assert [list(a) for a in wb.epoch_order(1)] != [list(a) for a in order]


def test_text_batches_are_contiguous_streams():
    text = "abcdefghijklmnopqrstuvwxy"  # 25 chars
    v = Vocab.from_text(text)
    tb = TextBatches(v.encode(text), batch_size=3, seq_len=3)
    assert tb.stream_len == 8 and tb.batches_per_epoch == 3
    streams = [""] * 3
    for k in range(tb.batches_per_epoch):
        b = tb.make(k)
        for s in range(3):
            streams[s] += v.decode(b.inputs[:, s])
            np.testing.assert_array_equal(b.targets[:-1, s], b.inputs[1:, s])
    assert streams == [text[0:8], text[8:16], text[16:24]]
    assert tb.make(2).inputs.shape == (2, 3)  # last chunk is shorter


def test_batch_larger_than_data_is_clamped():
    assert WordBatches(["a", "b"], Vocab.from_text("ab"), 64, 0).batch_size == 2
    assert TextBatches(np.arange(10) % 3, 64, 4).batch_size == 9


def test_split_is_seeded_and_disjoint():
    words = [f"w{i}" for i in range(100)]
    tr, va = split_train_val(words, 0.1, seed=1)
    assert len(va) == 10 and len(tr) == 90 and not set(tr) & set(va)
    assert split_train_val(words, 0.1, seed=1) == (tr, va)
    assert split_train_val(words, 0.1, seed=2) != (tr, va)
    assert split_train_val(words, 0.0, seed=1)[1] == []
    assert split_text("abcdefghij", 0.2) == ("abcdefgh", "ij")


def test_read_text_handles_bom_and_crlf(tmp_path):
    p = tmp_path / "w.txt"
    p.write_bytes(b"\xef\xbb\xbfanna\r\nbob\rcid\n")
    assert read_text(p) == "anna\nbob\ncid\n"
    assert split_words(read_text(p)) == ["anna", "bob", "cid"]


def test_read_text_other_encoding(tmp_path):
    p = tmp_path / "l1.txt"
    p.write_bytes("café\n".encode("latin-1"))
    with pytest.raises(CharRNNError, match="encoding='latin-1'"):
        read_text(p)
    assert read_text(p, "latin-1") == "café\n"


def test_overlong_line_in_words_mode():
    with pytest.raises(CharRNNError, match="mode='text'"):
        split_words("ok\n" + "x" * 5000 + "\n")
