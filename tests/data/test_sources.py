"""DATA as it comes: directories, globs, compressed files, their order, what is skipped."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os

import pytest

from charrnn import CharRNNError
from charrnn.data.dataset import DataFiles
from charrnn.data.sources import compression_of, resolve

COMPRESS = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}


def _tree(root, files: dict[str, bytes]) -> None:
    for rel, body in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body)


def test_a_directory_reads_its_files_by_sorted_relative_path_leaving_hidden_ones_out(tmp_path):
    _tree(
        tmp_path / "d",
        {
            "b.txt": b"b\n",
            "a/z.txt": b"az\n",
            "a.txt": b"a\n",
            "A.txt": b"A\n",
            ".hidden.txt": b"h\n",
            ".git/config": b"g\n",
            "sub/.cache/x.txt": b"x\n",
        },
    )
    found = resolve([str(tmp_path / "d")])
    rels = [os.path.relpath(m.path, tmp_path / "d") for m in found.members]
    # Code-point order of the relative path with '/', as `find | LC_ALL=C sort`: '.' < '/'.
    assert rels == ["A.txt", "a.txt", os.path.join("a", "z.txt"), "b.txt"]
    assert not found.skipped and all(not m.named for m in found.members)


def test_found_binary_and_empty_files_are_skipped_with_one_notice(tmp_path):
    _tree(
        tmp_path / "d",
        {
            "t.txt": b"text\n",
            "img.png": b"\x89PNG\r\n\x1a\n\x00\x00",
            "e.txt": b"",
            "w.txt": b" \n",
        },
    )
    found = resolve([str(tmp_path / "d")])
    assert [os.path.basename(m.path) for m in found.members] == ["t.txt"]
    notice = found.notice()
    assert notice is not None and "skipped 3 files" in notice
    for name, why in [("img.png", "binary"), ("e.txt", "empty"), ("w.txt", "empty")]:
        assert f"{name} ({why})" in notice
    # In UTF-16 every text holds NUL bytes: they do not mark a file as binary there.
    (tmp_path / "d" / "u.txt").write_bytes("utf sixteen\n".encode("utf-16"))
    assert "u.txt" in [
        os.path.basename(m.path) for m in resolve([str(tmp_path / "d")], True).members
    ]


def test_a_glob_matches_files_in_code_point_order_and_leaves_folders_out(tmp_path, monkeypatch):
    _tree(tmp_path, {"c2.txt": b"2\n", "c10.txt": b"10\n", "c1.md": b"1\n", "deep/c3.txt": b"3\n"})
    (tmp_path / "cdir.txt").mkdir()
    monkeypatch.chdir(tmp_path)
    found = resolve(["c*.txt"])
    assert [m.shown for m in found.members] == ["c10.txt", "c2.txt"]
    assert found.description == str(tmp_path / "c*.txt")
    assert [m.shown for m in resolve(["**/c*.txt"]).members] == [
        "c10.txt",
        "c2.txt",
        os.path.join("deep", "c3.txt"),
    ]


def test_several_arguments_keep_their_order_and_a_file_reached_twice_is_read_once(tmp_path):
    _tree(tmp_path, {"d/a.txt": b"a\n", "d/b.txt": b"b\n", "z.txt": b"z\n"})
    found = resolve([str(tmp_path / "z.txt"), str(tmp_path / "d"), str(tmp_path / "d" / "a.txt")])
    assert [os.path.basename(m.path) for m in found.members] == ["z.txt", "a.txt", "b.txt"]
    assert found.members[0].named and not found.members[1].named
    assert found.description.split() == [str(tmp_path / x) for x in ("z.txt", "d", "d/a.txt")]


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz"])
def test_compressed_files_are_told_by_their_first_bytes_and_read_as_their_text(tmp_path, kind):
    body = "första rad\nsecond line\r\n" * 500
    packed = COMPRESS[kind](body.encode("utf-8"))
    # Whatever the name: the bytes say it is compressed.
    for name in (f"t.txt.{kind}", "misnamed.txt"):
        (tmp_path / name).write_bytes(packed)
        files = DataFiles([str(tmp_path / name)])
        assert files.read_text() == body.replace("\r\n", "\n")
        (record,) = files.records or []
        assert record.bytes == len(packed)  # as stored: what ls -l and sha256sum see
        assert record.sha256 == hashlib.sha256(packed).hexdigest()


def test_text_that_starts_like_a_compressed_format_is_still_text(tmp_path):
    assert compression_of(b"BZh is how this line starts") is None
    assert compression_of(bz2.compress(b"x")[:10]) == "bzip2"
    (tmp_path / "t.txt").write_bytes(b"BZh9 and more text\n")
    assert DataFiles([str(tmp_path / "t.txt")]).read_text() == "BZh9 and more text\n"


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz"])
def test_a_damaged_compressed_file_is_named(tmp_path, kind):
    packed = COMPRESS[kind](b"some text that is long enough to cut\n" * 200)
    (tmp_path / f"t.{kind}").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(CharRNNError, match=rf"t\.{kind} is \w+-compressed but damaged"):
        DataFiles([str(tmp_path / f"t.{kind}")]).read_text()


def test_what_data_cannot_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".hidden").write_text("x\n")
    (tmp_path / "bins").mkdir()
    (tmp_path / "bins" / "a.bin").write_bytes(b"\x00\x01")
    cases = {
        "nope.txt": "no such file: nope.txt",
        "empty": "empty is a directory with no files in it",
        "bins": r"bins holds no text files: bins/a.bin \(binary\)",
        "*.nothing": r"\*.nothing names no file, and as a glob pattern it matches none",
        "@nonesuch": "no built-in corpus @nonesuch",
    }
    for arg, message in cases.items():
        with pytest.raises(CharRNNError, match=message):
            resolve([arg])
    with pytest.raises(CharRNNError, match="no data given"):
        resolve([])


def test_a_file_whose_name_looks_like_a_glob_is_that_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a[1].txt").write_text("x\n")
    (tmp_path / "a1.txt").write_text("y\n")
    assert [m.shown for m in resolve(["a[1].txt"]).members] == ["a[1].txt"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs file permissions")
def test_an_unreadable_file_is_named(tmp_path):
    f = tmp_path / "locked.txt"
    f.write_text("x\n")
    f.chmod(0)
    try:
        with pytest.raises(CharRNNError, match=r"cannot read .*locked.txt"):
            DataFiles([str(f)]).read_text()
        with pytest.raises(CharRNNError, match=r"cannot read .*locked.txt"):
            resolve([str(tmp_path)])  # found under a directory: looked at, so refused too
    finally:
        f.chmod(0o644)


def test_an_unreadable_file_is_named_even_for_root(tmp_path, monkeypatch):
    import charrnn.data.sources as sources

    (tmp_path / "d").mkdir()
    locked = tmp_path / "d" / "locked.txt"
    locked.write_text("x\n")

    def refuse(path, *args, **kwargs):
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return open(path, *args, **kwargs)

    monkeypatch.setattr(sources, "open", refuse, raising=False)
    with pytest.raises(CharRNNError, match=r"cannot read .*locked.txt: Permission denied"):
        DataFiles([str(locked)]).read_text()
    with pytest.raises(CharRNNError, match=r"cannot read .*locked.txt: Permission denied"):
        resolve([str(tmp_path / "d")])
