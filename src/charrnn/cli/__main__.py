"""``python -m charrnn.cli``: the ``charrnn`` command, as ``python -m charrnn`` is."""

import sys

from .main import main

sys.exit(main())
