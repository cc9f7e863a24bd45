"""Members read as one text or one word list: the joins, each member's record, the errors."""

from __future__ import annotations

import gzip
import hashlib
import pathlib

import pytest

from charrnn import CharRNNError
from charrnn.data.corpus import fingerprint, read_corpus
from charrnn.data.dataset import DataFiles
from charrnn.data.manifest import MemberRecord, changes, check_same_data, records_from


def _files(tmp_path, bodies: dict[str, bytes]) -> list[str]:
    out = []
    for name, body in bodies.items():
        (tmp_path / name).write_bytes(body)
        out.append(str(tmp_path / name))
    return out


def test_members_join_with_a_line_end_only_where_one_is_missing(tmp_path):
    paths = _files(tmp_path, {"a": b"one\ntwo", "b": b"three\n", "c": b"\xef\xbb\xbffour\r\nfive"})
    # A line end after "two" (the file lacks one), none after "three\n", none at the very end;
    # each file's own BOM and CRLF are handled as in a single file.
    expected = "one\ntwo\nthree\nfour\nfive"
    assert DataFiles(paths).read_text() == expected
    for size in (1, 2, 5, 1 << 18):
        assert "".join(DataFiles(paths).chunks(size)) == expected


def test_one_file_reads_exactly_as_before(tmp_path):
    (path,) = _files(tmp_path, {"t.txt": b"no final line end"})
    corpus = read_corpus(path, "text")
    assert corpus.fingerprint == fingerprint("no final line end")  # the digest of the text alone
    assert corpus.source == path


def test_records_are_what_ls_and_sha256sum_say(tmp_path):
    bodies = {"a.txt": b"alpha\n", "b.txt.gz": gzip.compress(b"beta\n")}
    paths = _files(tmp_path, bodies)
    files = DataFiles(paths)
    assert files.records is None  # known after a whole pass
    files.read_text()
    assert files.records == [
        MemberRecord(p, len(b), hashlib.sha256(b).hexdigest())
        for p, b in zip(paths, bodies.values(), strict=True)
    ]
    assert records_from([r.to_dict() for r in files.records]) == files.records


def test_words_come_from_every_member_in_order(tmp_path):
    paths = _files(tmp_path, {"a": b"anna\nbob", "b": b"\n\ncid\r\n  dan  \n"})
    assert DataFiles(paths).words() == ["anna", "bob", "cid", "dan"]
    corpus = read_corpus([pathlib.Path(p) for p in paths], "words")
    assert corpus.words == ["anna", "bob", "cid", "dan"] and len(corpus.members or []) == 2


def test_an_undecodable_member_is_named_with_its_line(tmp_path):
    good = "fine\n" * 5000  # the bad byte lies past the first chunks
    paths = _files(tmp_path, {"ok.txt": b"ok\n", "bad.txt": (good + "caf").encode() + b"\xe9\n"})
    for chunk in (7, 1 << 18):
        with pytest.raises(CharRNNError) as err:
            "".join(DataFiles(paths).chunks(chunk))
        assert f"{paths[1]} is not valid utf-8 at line 5001 (byte {len(good) + 3}" in str(err.value)
        assert err.value.params == ("encoding",)
    crlf = _files(tmp_path, {"crlf.txt": b"a\r\nb\rc\r\n\xff"})
    with pytest.raises(CharRNNError, match="at line 4 "):
        "".join(DataFiles(crlf).chunks(1))  # a CR held over a chunk's end counts once


def test_a_named_member_that_is_empty_or_binary_is_refused_by_name(tmp_path):
    paths = _files(tmp_path, {"a": b"text\n", "e": b" \n\t\n", "z": b"zip\x00ped"})
    with pytest.raises(CharRNNError, match=f"{paths[1]} is empty"):
        DataFiles(paths[:2]).read_text()
    with pytest.raises(CharRNNError, match=f"{paths[1]} is empty"):
        DataFiles(paths[:2]).words()
    with pytest.raises(CharRNNError, match=f"{paths[2]} looks like a binary file"):
        DataFiles([paths[0], paths[2]]).read_text()


def test_a_long_line_is_named_by_its_member_and_line(tmp_path):
    paths = _files(tmp_path, {"a": b"ok\n", "b": b"ok\nok\n" + b"x" * 2000 + b"\n"})
    with pytest.raises(CharRNNError, match=f"line 3 of {paths[1]} is 2000 characters long"):
        DataFiles(paths).words()


def test_a_second_pass_that_finds_other_bytes_stops(tmp_path):
    (path,) = _files(tmp_path, {"a": b"first\n"})
    files = DataFiles([path])
    files.read_text()
    pathlib.Path(path).write_bytes(b"changed\n")
    with pytest.raises(CharRNNError, match=r"the data changed while it was read .*edited"):
        files.read_text()


def _rec(path: str, body: bytes, held_out: bool = False) -> MemberRecord:
    return MemberRecord(path, len(body), hashlib.sha256(body).hexdigest(), held_out)


def test_changes_name_what_was_added_removed_edited_moved_or_reordered():
    a, b, c = _rec("/d/a", b"a"), _rec("/d/b", b"b"), _rec("/d/c", b"c")
    assert changes([a, b], [a, b]) == []
    assert changes([a, b], [a, b, c]) == ["added /d/c"]
    assert changes([a, b, c], [a, c]) == ["removed /d/b"]
    assert changes([a, b], [a, _rec("/d/b", b"bb")]) == ["edited /d/b (1 -> 2 bytes)"]
    assert changes([a, b], [a, _rec("/d/b", b"B")]) == ["edited /d/b"]
    assert changes([a, b], [a, _rec("/e/b", b"b")]) == ["moved /d/b -> /e/b"]
    assert changes([a, b], [b, a]) == ["the same files are in another order"]
    many = [_rec(f"/d/n{i}", bytes([i])) for i in range(8)]
    assert changes([a], [a, *many]) == ["added /d/n0, /d/n1, /d/n2, /d/n3, /d/n4 and 3 more"]
    assert changes([a], [a, _rec("/d/a", b"a", held_out=True)]) == ["added /d/a"]


def test_check_same_data_goes_by_the_fingerprint_and_says_what_changed():
    a, b = _rec("/d/a", b"a"), _rec("/d/b", b"b")
    check_same_data("f1", [a], "f1", [a, b])  # the same text: the same data, whatever the files
    check_same_data(None, None, "f2", [a])  # data in memory records no fingerprint
    with pytest.raises(CharRNNError, match=r"recorded \(added /d/b\); resume with the same data"):
        check_same_data("f1", [a], "f2", [a, b])
    with pytest.raises(CharRNNError, match="read differently"):
        check_same_data("f1", [a], "f2", [a])  # e.g. another encoding
    with pytest.raises(CharRNNError, match="its fingerprint differs"):
        check_same_data("f1", None, "f2", [a])  # a run from before member lists


@pytest.mark.parametrize(
    "bad",
    [
        "x",
        [{"path": "/a", "bytes": -1, "sha256": "0" * 64}],
        [{"path": "/a", "bytes": 1, "sha256": "zz"}],
        [{"path": "", "bytes": 1, "sha256": "0" * 64}],
        [{"path": "/a", "bytes": 1, "sha256": "0" * 64, "extra": 1}],
        [{"path": "/a", "bytes": True, "sha256": "0" * 64}],
    ],
)
def test_a_damaged_member_list_is_refused(bad):
    with pytest.raises(CharRNNError, match="member"):
        records_from(bad)
