"""``python -m ramparts``: the CLI (the hook is installed as ``python -I -m ramparts hook``)."""

import sys

from ramparts.cli import main

sys.exit(main())
