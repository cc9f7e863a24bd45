"""The one exception type for mistakes a user can make."""


class CharRNNError(Exception):
    """A problem the user can fix: bad file, bad flag, unknown character, bad checkpoint.

    The message says what is wrong and what to do. The CLI prints it without a
    traceback and exits with status 2.
    """
