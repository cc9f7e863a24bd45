"""The ``charrnn`` command: the top parser, made from the command modules, and dispatch.

Each command is one module of this package with ``add_parser(subparsers)`` and
``run(args) -> int``: it parses, calls the library, prints. Here, user mistakes
(:class:`CharRNNError`) become a message without a traceback and status 2, and
so do the machine's refusals (out of memory, a full disk, a file it may not
read, text the encoding cannot hold); Ctrl-C becomes 130 (training saves what
it had first); a reader that closes the pipe early (``charrnn sample RUN |
head``) ends any command quietly with 141.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable, Sequence

from ..common.errors import CharRNNError
from ..common.version import __version__
from ..training.parallel import current
from . import (
    complete,
    demo,
    experiment,
    export,
    gradcheck,
    info,
    plot,
    sample,
    score,
    serve,
    trace,
    train,
    viz,
)
from . import eval as eval_command
from .flags import Parser, cli_message
from .output import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_USER_ERROR, say

# In the order `charrnn --help` lists them.
COMMANDS = (
    train,
    sample,
    eval_command,
    score,
    trace,
    complete,
    export,
    serve,
    viz,
    gradcheck,
    plot,
    demo,
    experiment,
    info,
)


def build_parser() -> argparse.ArgumentParser:
    """The ``charrnn`` parser: one subcommand per module of :data:`COMMANDS`."""
    p = Parser(
        prog="charrnn",
        description="A character-level RNN language model (tanh RNN, GRU, LSTM) on numpy, "
        "with hand-written backpropagation through time.",
    )
    p.add_argument("--version", action="version", version=f"charrnn {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``charrnn`` command; returns the exit status."""
    for stream in (sys.stdout, sys.stderr):
        # A terminal that cannot show a character (Hangul on an ASCII or cp1252
        # console) shows its escape instead of ending the command, and so do the
        # messages on stderr; data written to a file or a pipe keeps strict encoding,
        # so that no reader gets escapes where it expects text.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (stream is sys.stderr or _isatty(stream)):
            reconfigure(errors="backslashreplace")
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`charrnn sample | head`): stop quietly. stdout now
        # points at devnull, so the interpreter's last flush finds nothing to fail on.
        # 141 (128 + SIGPIPE) is what `yes | head -1` and every tool SIGPIPE ends
        # give: the output was cut short, which a script under `set -o pipefail`
        # may want to know; an interactive user sees no message either way.
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False


def _stdout_to_devnull() -> None:
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (captured in tests): nothing will flush to a pipe
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status = int(args.func(args) or 0)
        # Here, not at the interpreter's exit: a full disk or stdout fails inside
        # this try, as a message.
        sys.stdout.flush()
        return status
    except CharRNNError as exc:
        return _fail(args.command, exc)
    except BrokenPipeError:
        raise  # main's to handle, for every command alike
    except (MemoryError, UnicodeError, OSError) as exc:
        failed = _fail(args.command, CharRNNError(machine_message(exc)))
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            _stdout_to_devnull()  # stdout itself failed: the last flush must not again
        return failed
    except Exception:
        comm = current()
        if comm.size > 1:  # a bug on one rank must not leave the others waiting
            import traceback

            traceback.print_exc()
            comm.abort(1)
        raise
    except KeyboardInterrupt:
        say("interrupted")
        return EXIT_INTERRUPTED


def run_script(main: Callable[[], object]) -> None:
    """Run a script's ``main`` (``examples/``) as ``charrnn`` runs a command.

    A user's mistake or the machine's refusal is one line on stderr and exit
    status 2, not a traceback, in the library's words (a script's flags are its
    own); a child process that failed is named, with what it said if that was
    captured, and its status passed on (128 + N for a signal N, as a shell says).
    """
    import subprocess

    name = os.path.basename(sys.argv[0]) or "script"
    try:
        main()
        sys.stdout.flush()  # inside: a closed pipe or a full disk is handled below
    except CharRNNError as exc:
        say(f"{name}: error: {exc}")
        sys.exit(EXIT_USER_ERROR)
    except BrokenPipeError:
        _stdout_to_devnull()
        sys.exit(EXIT_BROKEN_PIPE)
    except (MemoryError, UnicodeError, OSError) as exc:
        say(f"{name}: error: {machine_message(exc)}")
        sys.exit(EXIT_USER_ERROR)
    except subprocess.CalledProcessError as exc:
        said = exc.stderr.strip() if isinstance(exc.stderr, str) else ""
        say(f"{name}: error: {exc}" + (f"\n{said}" if said else ""))
        code = exc.returncode
        sys.exit(128 - code if code < 0 else code or 1)
    except KeyboardInterrupt:
        say("interrupted")
        sys.exit(EXIT_INTERRUPTED)


def _fail(command: str, exc: CharRNNError) -> int:
    comm = current()
    if comm.size > 1 and not getattr(exc, "collective", False):
        # Only this rank failed: the others wait for it in a collective call.
        say(f"charrnn {command}: error on rank {comm.rank}: {cli_message(exc)}")
        comm.abort(EXIT_USER_ERROR)
    if comm.is_root:
        say(f"charrnn {command}: error: {cli_message(exc)}")
    return EXIT_USER_ERROR


def machine_message(exc: BaseException) -> str:
    """What the machine's refusal of a command says to its user, and what to do.

    Out of memory, a full disk, a file it may not read or write, text an encoding
    cannot hold: not a bug in charrnn, so a message, not a traceback.
    """
    if isinstance(exc, MemoryError):
        detail = f" ({exc})" if str(exc) else ""
        return (
            f"out of memory{detail}: the model, batch or data needs more than this machine "
            "has; lower --hidden, --layers, --batch-size or --seq-len, or read less data"
        )
    if isinstance(exc, UnicodeEncodeError):
        shown = exc.object[exc.start : exc.end] if isinstance(exc.object, str) else "?"
        return (
            f"cannot write {shown!r}: the output's encoding, {exc.encoding}, has no such "
            "character; set PYTHONIOENCODING=utf-8 (or run python -X utf8)"
        )
    if isinstance(exc, UnicodeError):
        return (
            f"the text does not fit its encoding ({exc}); check --encoding (a UTF-16 file "
            "needs its byte-order mark, or utf-16-le / utf-16-be)"
        )
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        where = f" writing {exc.filename}" if exc.filename else ""
        return f"no space left on the device{where}: free some space, or write elsewhere"
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    name = getattr(exc, "filename", None)
    return f"cannot use {name}: {reason}" if name else f"the system refused: {reason}"


if __name__ == "__main__":
    sys.exit(main())
