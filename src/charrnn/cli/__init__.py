"""The ``charrnn`` command."""

from .main import build_parser, main, run_script

__all__ = ["build_parser", "main", "run_script"]
