"""``python -m nameorigin.serve``: the ``serve`` subcommand alone."""

import sys

from .server import main

sys.exit(main())
