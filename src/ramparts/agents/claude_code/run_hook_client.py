"""What Claude Code runs by path for every event: ``python -I -S run_hook_client.py [options] -- <hook>``.

It only loads :mod:`hook_client` (the resident hook's thin client) as a module and calls its ``main``.
A file run by path is compiled from its source on every run, while a module imported is read from
its cached bytecode (``__pycache__``, written when Ramparts is installed): for the client that is a few
milliseconds of every event. ``-I`` leaves this file's folder off ``sys.path``, so it is added, last,
behind the standard library. Any failure to load the client is an error exit, which Claude Code's
``onFailure: "block"`` turns into a block.
"""

import os
import sys

if __name__ == "__main__":  # never when imported (it would read stdin)
    sys.path.append(os.path.dirname(__file__))
    import hook_client  # type: ignore[import-not-found]  # found through the line above

    hook_client.main(sys.argv[1:])
