"""``python -m fastcache``: the ``fastcache`` command."""
import sys

from .cli import main

sys.exit(main())
