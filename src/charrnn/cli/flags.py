"""Command-line flags: ``charrnn train``'s flags made from the Config fields, and the
one table from parameter names to flags that turns library messages into CLI ones.

The library's errors name parameters (``hidden must be a positive integer``);
the CLI shows the flag a user types (``--hidden must be a positive integer``).
"""

from __future__ import annotations

import argparse
import difflib
import math
import pathlib
import re
import sys
import types
import typing
from dataclasses import fields
from typing import Any

from ..common.errors import CharRNNError
from ..core.config import GROUPS, Config

# Section titles of `charrnn train --help`, one per Config group.
GROUP_TITLES = {
    "model": "Model",
    "data": "Data",
    "optimisation": "Optimisation",
    "regularisation": "Regularisation",
    "run": "Run",
}

# Parameter name -> the flag that sets it. Names without an entry (``backend``)
# have no flag and stay as they are in CLI messages.
PARAM_FLAGS: dict[str, str] = {
    **{f.name: "--" + f.name.replace("_", "-") for f in fields(Config)},
    "n": "-n",
    "max_len": "--max-len",
    "top_k": "--top-k",
    "k": "-k",
    "beam": "--beam",
    "temperature": "--temperature",
    "encoding": "--encoding",
    "prefix": "--prefix",
    "out_dir": "--out",
    "resume": "--resume",
    "force": "--force",
    "unknown": "--unknown",
    "val_data": "--val-data",
}

DATA_HELP = (
    "a text file (gzip/bzip2/xz too), a directory (its text files, by sorted path), "
    "a quoted glob pattern, or - for standard input; several are read in order "
    "(docs/cli.md#data)"
)


def data_paths(data: list[str]) -> list[pathlib.Path]:
    """DATA arguments as the library takes them: paths (a list of ``str`` is the data itself)."""
    return [pathlib.Path(d) for d in data]


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` for charrnn: no abbreviations, and suggestions for typos.

    ``allow_abbrev`` is off (here and, through ``parser_class``, in every
    subparser): ``--unit jamo`` must not quietly mean ``--units jamo``, and a
    flag added later must not change what an old command line means. A flag or
    a choice that is not known gets the closest known one in the message
    ("did you mean --hidden?").
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def add_subparsers(self, **kwargs: Any) -> Any:
        kwargs.setdefault("parser_class", Parser)
        return super().add_subparsers(**kwargs)

    _intermixing = False

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        words = list(sys.argv[1:] if args is None else args)
        if self._subparsers is None and not self._intermixing and "--" not in words:
            # A command's words may follow its flags (`complete RUN -k 3 kri`): argparse
            # alone fills an optional positional (PREFIX, TEXT) before it has seen them
            # and then finds `kri` unrecognised. Intermixed parsing reads the flags
            # first; before Python 3.12.8 and 3.13.1 it calls this method again for each
            # pass, and its first pass swallows a `--`, so `score RUN -- -anna` (words
            # that start with "-") keeps the plain parse.
            self._intermixing = True
            try:
                parsed, extras = self.parse_known_intermixed_args(words, namespace)
            finally:
                self._intermixing = False
        elif self._intermixing:
            return super().parse_known_args(args, namespace)  # one pass of the above
        else:
            parsed, extras = super().parse_known_args(words, namespace)
        # A command's own parser names its unknown flags itself, while it still
        # knows its flags; the top parser would only see the leftover words.
        if self._subparsers is None and any(e.startswith("-") for e in extras):
            self.error(f"unrecognized arguments: {' '.join(extras)}{self._suggest(extras)}")
        return parsed, extras

    def _suggest(self, extras: list[str]) -> str:
        known = [o for o in self._option_string_actions if o.startswith("--")]
        for extra in extras:
            typed = extra.split("=", 1)[0]
            if typed.startswith("--"):
                # An abbreviation first (argparse would have taken it), then a typo.
                longer = [o for o in known if o.startswith(typed)]
                close = longer or difflib.get_close_matches(typed, known, n=1, cutoff=0.6)
                if close:
                    return f"; did you mean {' or '.join(close)}?"
        return ""

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        # argparse's own check, with the closest choice named (commands included).
        choices = action.choices
        if choices is not None and value not in choices:
            names = [str(c) for c in choices]
            close = difflib.get_close_matches(str(value), names, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            shown = ", ".join(map(repr, names))
            raise argparse.ArgumentError(
                action, f"invalid choice: {value!r} (choose from {shown}){hint}"
            )


def whole_number(s: str) -> int:
    """argparse type: an integer, with a message that says what was expected."""
    try:
        return int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {s!r}") from None


def count(s: str) -> int:
    """argparse type: a whole number of 1 or more (processes, rows, steps)."""
    v = whole_number(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {s!r}")
    return v


def seed(s: str) -> int:
    """argparse type: a seed, a whole number of 0 or more (what numpy's generators take)."""
    v = whole_number(s)
    if v < 0:
        raise argparse.ArgumentTypeError(f"a seed is a whole number of 0 or more, got {s!r}")
    return v


def number(s: str) -> float:
    """argparse type: a float other than nan."""
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {s!r}") from None
    if math.isnan(v):
        raise argparse.ArgumentTypeError("expected a number, got nan")
    return v


def _base_type(hint: Any) -> type:
    """``int`` for ``int`` and for ``int | None``: what a flag's value converts to."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _help(default: Any, meta: typing.Mapping[str, Any]) -> str:
    shown = meta["default_help"]
    if shown is None:
        shown = "none" if default is None else str(default)
    # argparse formats help with %; a literal % must be doubled.
    return f"{meta['help']} (default {shown})".replace("%", "%%")


def add_config_flags(parser: argparse.ArgumentParser) -> dict[str, Any]:
    """Add one flag per :class:`Config` field to ``parser``, in sections by field group.

    Every flag defaults to ``None``, meaning "not given", so that a caller can
    tell the user's choices from the defaults (presets and resumes rely on it);
    its value lands in the attribute named like the field (``--batch-size`` ->
    ``args.batch_size``). Whole-number fields take whole numbers, float fields
    numbers (not nan), fields with choices one of them; an optional field
    (``int | None``) takes its base type, and leaving it out keeps ``None``.

    Parameters
    ----------
    parser : argparse.ArgumentParser

    Returns
    -------
    dict
        The argument groups by group name (``"model"``, ..., ``"run"``), so the
        caller can add its own flags to a section.
    """
    groups = {g: parser.add_argument_group(GROUP_TITLES[g]) for g in GROUPS}
    hints = typing.get_type_hints(Config)
    for f in fields(Config):
        meta = f.metadata
        kwargs: dict[str, Any] = {"dest": f.name, "default": None, "help": _help(f.default, meta)}
        base = _base_type(hints[f.name])
        if meta["choices"] is not None:
            kwargs["choices"] = meta["choices"]
        elif base is int:
            kwargs["type"] = whole_number
        elif base is float:
            kwargs["type"] = number
        elif base is not str:
            raise TypeError(f"Config.{f.name}: no flag type for {hints[f.name]}; add one here")
        if meta["metavar"] is not None:
            kwargs["metavar"] = meta["metavar"]
        groups[meta["group"]].add_argument(PARAM_FLAGS[f.name], **kwargs)
    return groups


def _name_pattern(names: list[str]) -> re.Pattern[str]:
    # A name stands alone: not inside a longer word, a flag or a path
    # ("hidden" but not "hidden_size", "--hidden" or "runs/hidden.txt").
    # A following "=value" (as in "hidden=9000" or "mode='text'") is taken
    # along, to become "--hidden 9000" / "--mode text".
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(
        rf"(?<![\w./\\-])(?P<name>{alternatives})"
        r"(?:=(?P<value>'[^']*'|\"[^\"]*\"|[^\s,;)]+))?"
        r"(?![\w/\\-]|\.\w)"
    )


def cli_message(exc: CharRNNError) -> str:
    """The message of ``exc`` as the CLI shows it: the parameters it names become flags.

    Only the names listed in ``exc.params`` that have a flag are rewritten,
    each wherever it stands as a word of its own.

    Examples
    --------
    >>> cli_message(CharRNNError("max_len must be at least 1; got 0", params=("max_len",)))
    '--max-len must be at least 1; got 0'
    >>> cli_message(CharRNNError("for running text use mode='text'", params=("mode",)))
    'for running text use --mode text'
    """
    message = str(exc)
    names = [n for n in exc.params if n in PARAM_FLAGS]
    if not names:
        return message

    def to_flag(m: re.Match[str]) -> str:
        flag = PARAM_FLAGS[m["name"]]
        value = m["value"]
        if value is None:
            return flag
        if value[:1] in "'\"" and not any(c.isspace() for c in value):
            value = value[1:-1]  # quotes are Python's; a shell word needs none
        return f"{flag} {value}"

    return _name_pattern(names).sub(to_flag, message)
