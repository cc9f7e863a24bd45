"""Writing a file whole or not at all: a temporary file beside it, then one rename.

Every file charrnn writes (checkpoints, the run's config and metrics, token
caches, pages, pictures) goes through :func:`atomic_write`, so an interrupted
or failed write (Ctrl-C, a full disk, a bug in the code producing the bytes)
leaves the old file, or no file, never half of one.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any


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
    path = os.fspath(path)
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
    raise FileExistsError(f"could not create a temporary file in {folder}")
