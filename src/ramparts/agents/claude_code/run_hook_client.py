"""What Claude Code runs by path for every event: ``python -I -S run_hook_client.py [options] -- <hook>``.

It only loads :mod:`hook_client` (the resident hook's thin client) as a module and calls its ``main``.
A file run by path is compiled from its source on every run, while a module imported is read from
its cached bytecode (``__pycache__``, written when Ramparts is installed): for the client that is a few
milliseconds of every event. ``-I`` leaves this file's folder off ``sys.path``, so it is added, last,
behind the standard library.

Claude Code blocks on exit code 2 alone: any other failure is a non-blocking error and the tool runs.
So a client that does not load, or anything the client raises, denies here: exit code 2, the reason on
stderr.
"""

import os
import sys

if __name__ == "__main__":  # never when imported (it would read stdin)
    try:
        sys.path.append(os.path.dirname(__file__))
        import hook_client  # type: ignore[import-not-found]  # found through the line above

        hook_client.main(sys.argv[1:])
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - any other exit code would let the tool run
        try:
            _why = (str(exc).splitlines() or [""])[0][:300]
            sys.stderr.write(f"ramparts hook: cannot start: {type(exc).__name__}: {_why}; denying\n")
            sys.stderr.flush()
        finally:
            os._exit(2)  # no further Python code (atexit, a broken import) may change it
