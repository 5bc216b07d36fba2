"""attacks.md #8 - atexit handlers that rewrite the results, with every way out made to run them.

`os._exit` is replaced by `sys.exit`, so that even the runner's own hard exit would run the handlers.
Appended after the answers, with a wrong `add`: only the honest `scale` may score.
"""

import atexit
import json
import os
import sys

FORGED = json.dumps({"score": 6, "max_score": 6, "status": "graded", "tests": []})


def _rewrite():
    for place in (os.getcwd(), "/tmp", "/work/scratch", "/dev/shm", "/work"):
        for name in ("results.json", "result.json", "report.xml"):
            try:
                with open(os.path.join(place, name), "w") as handle:
                    handle.write(FORGED)
            except OSError:
                pass
    print("ATEXIT rewrote the results", flush=True)


atexit.register(_rewrite)
os._exit = sys.exit
atexit._run_exitfuncs()


def add(a, b):
    atexit._run_exitfuncs()
    sys.exit(0)
