"""``python -m builder`` is the same as the ``netjournal`` command."""

from .cli import run

run()
