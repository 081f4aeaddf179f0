"""The hook command Ramparts installs: ``python -I -S run_hook.py hook --policy P ...`` (issue 21).

A fresh interpreter runs it for every event the resident server does not take (its fail-closed
fallback, or every event with ``hook.resident: false``). ``-S`` skips ``site``, a third of a bare
interpreter's start; this file puts the tree it sits in on ``sys.path`` and :mod:`launch` (imported
from its cached bytecode) does the rest: the environment's packages, then ``ramparts``. Run by path,
this file is compiled on every event: keep it this small.

Claude Code blocks on exit code 2 alone: any other failure is a non-blocking error and the tool runs.
So whatever is raised before the CLI's own handler takes over (Ramparts or a dependency that does not
import, a broken environment) denies here, with exit code 2 and the reason on stderr.
"""

import os
import sys

if __name__ == "__main__":  # never when imported
    try:
        if sys.argv[1:2] == ["hook"]:  # a hook lives tens of milliseconds: no cyclic GC passes (see launch)
            import gc

            gc.disable()
        _tree = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__)))))
        if _tree not in sys.path:
            # behind the standard library (-S: nothing else is on the path yet); with site, before its packages
            sys.path.insert(len(sys.path) if sys.flags.no_site else 0, _tree)
        from ramparts.agents.claude_code.launch import main

        main()
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - any other exit code would let the tool run
        try:
            _why = (str(exc).splitlines() or [""])[0][:300]
            sys.stderr.write(f"ramparts hook: cannot start: {type(exc).__name__}: {_why}; denying\n")
            sys.stderr.flush()
        finally:
            os._exit(2)  # no further Python code (atexit, a broken import) may change it
