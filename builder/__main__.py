"""``python -m builder`` is the same as the ``netjournal`` command."""

import sys

from .cli import main

sys.exit(main())
