"""``python -m spikelocal`` is the ``spikelocal`` command (one registry of sub-commands)."""
import sys

from .cli import main

sys.exit(main())
