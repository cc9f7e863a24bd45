"""Optional dependencies: import one, or say in one format what to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import CharRNNError

# Module -> the extra of charrnn that installs it (pyproject.toml, [project.optional-dependencies]).
EXTRAS = {
    "matplotlib": "plot",
    "mpi4py": "mpi",
    "tqdm": "progress",
    "threadpoolctl": "mpi",
}


def require(module: str, *, what: str = "this", extra: str | None = None) -> ModuleType:
    """Import an optional dependency, or raise a :class:`CharRNNError` that says how to get it.

    Parameters
    ----------
    module : str
        The module to import (``"matplotlib.pyplot"``: the install hint names
        the top package, ``matplotlib``).
    what : str
        What needs it, as the message's subject ("charrnn plot", "--png").
    extra : str, optional
        The charrnn extra that installs it; by default the one :data:`EXTRAS`
        names for the package.

    Returns
    -------
    module

    Raises
    ------
    CharRNNError
        ``"<what> needs <package>: pip install 'charrnn[<extra>]'"``.

    Examples
    --------
    >>> require("json").__name__
    'json'
    >>> try:
    ...     require("no_such_package", what="charrnn plot", extra="plot")
    ... except CharRNNError as exc:
    ...     print(exc)
    charrnn plot needs no_such_package: pip install 'charrnn[plot]'
    """
    package = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError:
        hint = extra or EXTRAS.get(package)
        install = f"pip install 'charrnn[{hint}]'" if hint else f"pip install {package}"
        raise CharRNNError(f"{what} needs {package}: {install}") from None


def optional(module: str) -> ModuleType | None:
    """Import an optional dependency, or ``None`` when it is not installed (for a fallback)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def pyplot(what: str = "this", extra: str = "plot") -> ModuleType:
    """matplotlib's ``pyplot`` with the file-only Agg backend (no display needed)."""
    matplotlib = require("matplotlib", what=what, extra=extra)
    matplotlib.use("Agg")
    return require("matplotlib.pyplot", what=what, extra=extra)
