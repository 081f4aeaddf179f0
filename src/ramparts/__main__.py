"""``python -m ramparts``: the CLI (the hook is installed as ``python -I -S .../run_hook.py hook``).

Older installs run ``python -I -m ramparts hook``: a CLI that cannot be imported denies there as
``run_hook.py`` does, with exit code 2 (the only code Claude Code reads as a block)."""

import sys

try:
    from ramparts.cli import main
except Exception as exc:
    if sys.argv[1:2] != ["hook"]:
        raise
    sys.stderr.write(f"ramparts hook: cannot start: {type(exc).__name__}: {str(exc)[:300]}; denying\n")
    sys.exit(2)

sys.exit(main())
