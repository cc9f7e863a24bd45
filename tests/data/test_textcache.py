"""Large texts: chunked reading, memory-mapped token files, flat memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from charrnn import Vocab
from charrnn.data.files import iter_text, read_text
from charrnn.data.split import split_text
from charrnn.data.textcache import encode_to_file, open_tokens, scan_text, token_dtype


def test_chunks_join_to_the_whole_text_across_awkward_boundaries(tmp_path):
    f = tmp_path / "t.txt"
    body = "line one\r\nzweite Zeile ü\r\n한국어 🙂\rend\r\n" * 50
    f.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    expected = body.replace("\r\n", "\n").replace("\r", "\n")
    for size in (1, 2, 3, 7, 64, 1 << 20):  # splits CRLF pairs and multi-byte characters
        assert "".join(iter_text(f, chunk_bytes=size)) == expected
    assert read_text(f) == expected


def test_token_file_equals_in_memory_encoding(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("the quick brown fox jumps over the lazy dog\n" * 1000)
    scan = scan_text(f)
    vocab = Vocab(scan.chars)
    n = encode_to_file(f, vocab, tmp_path / "ids.bin")
    ids = open_tokens(tmp_path / "ids.bin", vocab.size)
    assert n == scan.n_chars == len(ids) and ids.dtype == np.uint8
    np.testing.assert_array_equal(ids, vocab.encode(read_text(f)))
    train, val = split_text(ids, 0.1)
    assert len(train) + len(val) == len(ids) and isinstance(train, np.memmap)


def test_token_dtype_grows_with_the_vocabulary():
    assert token_dtype(65) == np.uint8
    assert token_dtype(300) == np.uint16
    assert token_dtype(70_000) == np.uint32


def _peak_encoding_memory(path) -> int:
    tracemalloc.start()
    scan = scan_text(path)
    encode_to_file(path, Vocab(scan.chars), str(path) + ".bin")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_memory_does_not_grow_with_the_corpus(tmp_path):
    line = "".join(chr(c) for c in range(32, 127)) + "\n"
    small, large = tmp_path / "small.txt", tmp_path / "large.txt"
    small.write_text(line * 40_000)  # ~4 MB
    large.write_text(line * 160_000)  # ~15 MB
    p_small, p_large = _peak_encoding_memory(small), _peak_encoding_memory(large)
    assert p_large < 1.3 * p_small, (p_small, p_large)
    assert p_large < large.stat().st_size  # less than the text itself


def test_text_mode_run_uses_a_token_cache_and_reuses_it_on_resume(cli, tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("to be or not to be\n" * 200)
    run = tmp_path / "r"
    flags = ["--mode", "text", "--hidden", "8", "--seq-len", "10", "--batch-size", "4", "--quiet"]
    code, _, err = cli("train", f, "--out", run, "--steps", "5", *flags)
    assert code == 0, err
    caches = list(run.glob("tokens-*.bin"))
    assert len(caches) == 1
    mtime = caches[0].stat().st_mtime_ns
    code, _, err = cli("train", f, "--out", run, "--steps", "8", "--resume", *flags)
    assert code == 0, err
    assert caches[0].stat().st_mtime_ns == mtime  # not encoded again


def test_eval_streams_text_and_skips_unknown(cli, tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("abcabc abc\n" * 100)
    run = tmp_path / "r"
    code, _, err = cli(
        "train", f, "--out", run, "--mode", "text", "--hidden", "8", "--steps", "5", "--quiet"
    )
    assert code == 0, err
    other = tmp_path / "o.txt"
    other.write_text("abcZ abc\n" * 10)
    code, _, err = cli("eval", run, other)
    assert code == 2 and "'Z'" in err
    code, out, _ = cli("eval", run, other, "--unknown", "skip", "--json")
    assert code == 0 and '"chars": ' in out


@pytest.mark.parametrize("encoding", ["utf-16", "latin-1"])
def test_other_encodings_stream(tmp_path, encoding):
    f = tmp_path / "t.txt"
    text = "façade naïve\n" * 300
    f.write_bytes(text.encode(encoding))
    assert "".join(iter_text(f, encoding, chunk_bytes=5)) == text


def test_text_split_caps_the_held_out_tail():
    ids = np.arange(1000)
    train, val = split_text(ids, 0.1)
    assert len(val) == 100 and val[0] == 900
    train, val = split_text(ids, 0.1, val_max=30)
    assert len(val) == 30 and len(train) == 970 and val[-1] == 999
    assert split_text("abcdefghij", 0.2) == ("abcdefgh", "ij")
    assert split_text("abc", 0.0) == ("abc", "")
