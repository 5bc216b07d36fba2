"""attacks.md #8 - atexit handlers that rewrite the results, with every way out made to run them.

`os._exit` is replaced by `sys.exit`, so that even the runner's own hard exit would run the handlers.
Appended after the answers, with a wrong `add`: only the honest `scale` may score.
"""

# uses _forge.py

import atexit
import os
import sys


def _rewrite():
    _forge_results()  # noqa: F821 - defined by _forge.py, prepended
    print("ATEXIT rewrote the results", flush=True)


atexit.register(_rewrite)
os._exit = sys.exit
atexit._run_exitfuncs()


def add(a, b):
    atexit._run_exitfuncs()
    sys.exit(0)
