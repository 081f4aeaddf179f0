"""``python -m ramparts``: the CLI (the hook is installed as ``python -I -S .../run_hook.py hook``)."""

import sys

from ramparts.cli import main

sys.exit(main())
