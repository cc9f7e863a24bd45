"""``python -m charrnn``: the ``charrnn`` command (also ``python -m mpi4py -m charrnn``)."""

import sys

from .cli.main import main

sys.exit(main())
