"""Writing a file whole or not at all: a temporary file beside it, then one rename.

Every file charrnn writes (checkpoints, the run's config and metrics, token
caches, pages, pictures) goes through :func:`atomic_write`, so an interrupted
or failed write (Ctrl-C, a full disk, a bug in the code producing the bytes)
leaves the old file, or no file, never half of one.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from .errors import CharRNNError


def check_target(path: str | os.PathLike[str], reading: Iterable[str] = ()) -> str:
    """Refuse a file to write that cannot be written whole, or that is one being read.

    A write goes to a temporary file and is renamed over the target, so a target that
    is not a regular file (``/dev/null``, a pipe, a socket) would be replaced by one,
    and a target that is a file being read (the model a command exports, the log it
    plots) would be lost. A symbolic link is followed: its target is written.

    Parameters
    ----------
    path : str or path
        The file to write.
    reading : iterable of str
        Files the command reads; ``path`` must be none of them.

    Returns
    -------
    str
        The path to write: ``path`` with symbolic links followed.

    Raises
    ------
    CharRNNError
        With what is wrong and what to do.
    """
    given = os.fspath(path)
    if not given:
        raise CharRNNError("no file name given; name the file to write")
    if given.endswith(("/", os.sep)):
        raise CharRNNError(f"{given} names a folder (it ends in a slash); give the file to write")
    real = os.path.realpath(given)
    folder = os.path.dirname(real)
    if not os.path.isdir(folder):
        what = "is a file, not a folder" if os.path.exists(folder) else "does not exist"
        raise CharRNNError(f"cannot write {given}: its folder {folder} {what}; create it first")
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return real
    if stat.S_ISDIR(st.st_mode):
        raise CharRNNError(f"{given} is a folder; give the file to write, e.g. {given}/out")
    if not stat.S_ISREG(st.st_mode):
        raise CharRNNError(
            f"{given} is not a regular file (a device, pipe or socket); charrnn writes whole "
            "files and would replace it: give the path of a file"
        )
    for other in reading:
        try:
            same = os.path.samefile(real, other)
        except OSError:
            same = False
        if same:
            raise CharRNNError(
                f"{given} is a file this command reads ({other}); writing it would lose it: "
                "give another path"
            )
    return real


@contextmanager
def atomic_write(
    path: str | os.PathLike[str],
    mode: str = "wb",
    *,
    encoding: str | None = None,
    fsync: bool = False,
) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; when the block ends well, it becomes ``path``.

    The temporary file lives in the same directory, so the final
    ``os.replace`` is one atomic rename on the same file system. It gets the
    mode any new file would get (0666 narrowed by the umask), not
    ``tempfile.mkstemp``'s 0600: these are the user's files, not secrets.
    If the block raises, the temporary file is removed and ``path`` is
    untouched.

    Parameters
    ----------
    path : str or path
        The file to write; its directory must exist.
    mode : {"wb", "w"}
        Binary or text.
    encoding : str, optional
        For text mode (default utf-8).
    fsync : bool
        Flush the data to the disk before the rename, so that after a power
        cut the file is the old one or the new one, never an empty one. For
        files that cost training time to remake (checkpoints).

    Yields
    ------
    file object

    Raises
    ------
    CharRNNError
        Where :func:`check_target` refuses ``path`` (a folder, a device, a missing folder).

    Examples
    --------
    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> with atomic_write(os.path.join(folder, "a.txt"), "w") as f:
    ...     _ = f.write("whole")
    >>> open(os.path.join(folder, "a.txt")).read()
    'whole'
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w'; got {mode!r}")
    path = check_target(path)
    fd, tmp = _create_temp(os.path.dirname(os.path.abspath(path)), os.path.basename(path))
    try:
        if mode == "w":
            f: IO[Any] = os.fdopen(fd, "w", encoding=encoding or "utf-8")
        else:
            f = os.fdopen(fd, "wb")
        with f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_atomic(
    path: str | os.PathLike[str], data: str | bytes, *, encoding: str = "utf-8", fsync: bool = False
) -> None:
    """Write ``data`` (text or bytes) to ``path`` whole or not at all; see :func:`atomic_write`."""
    if isinstance(data, bytes):
        with atomic_write(path, "wb", fsync=fsync) as f:
            f.write(data)
    else:
        with atomic_write(path, "w", encoding=encoding, fsync=fsync) as f:
            f.write(data)


def _create_temp(folder: str, name: str) -> tuple[int, str]:
    """Create a new file in ``folder`` for writing; return its descriptor and path.

    Created with mode 0666, which the kernel narrows by the umask: the mode any
    new file gets, without reading the umask (``os.umask`` can only be read by
    setting it, which races with other threads creating files).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
        except OSError as exc:  # named by the folder the user chose, not our hidden file
            exc.filename = folder
            raise
    raise FileExistsError(f"could not create a temporary file in {folder}")
