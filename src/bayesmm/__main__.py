"""``python -m bayesmm serve ...``: the same as the ``bayesmm`` command."""

import sys

from .cli import main

sys.exit(main())
