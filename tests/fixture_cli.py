"""``charrnn`` with the test suite's own cells registered, for the matrix's MPI ranks.

A rank is a new process: it knows only the package's cells unless something registers
the suite's, so it imports the conftest that registers them in the test process too (a
new test cell is registered in one place for both).
"""

import sys

import tests.conftest  # noqa: F401 (registers the suite's cells)
from charrnn.cli import main

if __name__ == "__main__":
    sys.exit(main())
