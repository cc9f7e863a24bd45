"""``charrnn`` with the test suite's own cells registered, for the matrix's MPI ranks.

A rank is a new process: it knows only the package's cells unless something registers
the fixture's, as tests/conftest.py does in the test process.
"""

import sys

from charrnn.cli import main
from tests import cells_fixture  # noqa: F401 (registers "irnn")

if __name__ == "__main__":
    sys.exit(main())
