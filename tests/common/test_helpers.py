"""The helpers every layer uses: writing a file whole or not at all; optional imports."""

from __future__ import annotations

import os
import stat

import pytest

from charrnn.common.errors import CharRNNError
from charrnn.common.files import atomic_write, check_target, write_atomic
from charrnn.common.optional import optional, pyplot, require


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_the_file_gets_the_mode_the_umask_gives(tmp_path, umask):
    old = os.umask(umask)
    try:
        write_atomic(tmp_path / "a.txt", "text")
        write_atomic(tmp_path / "b.bin", b"\x00\x01", fsync=True)
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.txt") == 0o666 & ~umask  # not mkstemp's 0600
    assert _mode(tmp_path / "b.bin") == 0o666 & ~umask
    assert (tmp_path / "a.txt").read_text() == "text"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"


def test_a_failed_write_leaves_the_old_file_and_nothing_else(tmp_path):
    path = tmp_path / "keep.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(path, "w") as f:
        f.write("half of the new")
        raise RuntimeError("the producer failed")
    assert path.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["keep.txt"]


def test_a_failed_first_write_leaves_no_file(tmp_path):
    with pytest.raises(KeyboardInterrupt), atomic_write(tmp_path / "new.bin") as f:
        f.write(b"abc")
        raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_text_is_utf8_by_default_and_the_rename_replaces(tmp_path):
    path = tmp_path / "k.txt"
    write_atomic(path, "first")
    write_atomic(path, "가격 ✓")
    assert path.read_bytes() == "가격 ✓".encode()
    assert os.listdir(tmp_path) == ["k.txt"]


def test_only_write_modes():
    with pytest.raises(ValueError, match="mode"), atomic_write("x", "a"):
        pass


def test_a_missing_optional_dependency_says_what_to_install():
    with pytest.raises(CharRNNError) as info:
        require("no_such_module_xyz.sub", what="charrnn plot", extra="plot")
    assert str(info.value) == "charrnn plot needs no_such_module_xyz: pip install 'charrnn[plot]'"
    with pytest.raises(CharRNNError, match=r"this needs no_such_module_xyz: pip install no_such"):
        require("no_such_module_xyz")
    with pytest.raises(CharRNNError, match=r"needs tqdm: pip install 'charrnn\[progress\]'"):
        import sys

        saved = sys.modules.get("tqdm")
        sys.modules["tqdm"] = None  # type: ignore[assignment]  # import fails
        try:
            require("tqdm")
        finally:
            if saved is None:
                del sys.modules["tqdm"]
            else:
                sys.modules["tqdm"] = saved


def test_optional_gives_the_module_or_none():
    assert optional("json").__name__ == "json"
    assert optional("no_such_module_xyz") is None


def test_pyplot_draws_to_files_only():
    pytest.importorskip("matplotlib")
    plt = pyplot()
    import matplotlib

    assert plt.__name__ == "matplotlib.pyplot" and matplotlib.get_backend().lower() == "agg"


def test_a_target_that_is_not_a_regular_file_is_refused_and_kept(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(CharRNNError, match="not a regular file"):
        write_atomic(fifo, "x")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    with pytest.raises(CharRNNError, match="is a folder"):
        write_atomic(tmp_path, "x")
    with pytest.raises(CharRNNError, match="does not exist"):
        write_atomic(tmp_path / "no" / "a.txt", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]  # no temporary left


def test_a_link_is_written_through_and_inputs_are_refused(tmp_path):
    target, link = tmp_path / "t.txt", tmp_path / "l.txt"
    target.write_text("old")
    link.symlink_to(target)
    write_atomic(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    assert check_target(tmp_path / "fresh.txt", reading=[str(target)]) == str(
        (tmp_path / "fresh.txt").resolve()
    )
    with pytest.raises(CharRNNError, match="reads"):
        check_target(link, reading=[str(target)])
