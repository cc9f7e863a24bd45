"""The one exception type for mistakes a user can make."""

from __future__ import annotations


class CharRNNError(Exception):
    """A problem the user can fix: bad file, bad flag, unknown character, bad checkpoint.

    The message says what is wrong and what to do, in the library's words: it
    names parameters (``hidden``, ``max_len``), not command-line flags. The CLI
    prints it without a traceback, with the parameters in ``params`` rewritten
    to their flags, and exits with status 2.

    Parameters
    ----------
    message : str
        What is wrong and what to do.
    params : tuple of str, optional
        The parameter names the message mentions, so that a front end can
        rename them (the CLI shows ``--hidden`` where the message says
        ``hidden``).
    """

    def __init__(self, message: str, *, params: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.params = tuple(params)
