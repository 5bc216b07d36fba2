"""attacks.md #7 - a detached process (double fork + setsid) that outlives the submission and, for a minute,
rewrites result files wherever it can write and sends forged replies on every socket it holds.

PARAMS (prepended by the test): name, a process name (at most 15 characters) the host can look for.
Appended after the answers, with a wrong `add`: only the honest `scale` may score.
"""

# uses _forge.py

import ctypes
import json
import os
import stat
import struct
import time

PARAMS = globals().get("PARAMS", {})


def _rewrite_everything():
    _forge_results()  # noqa: F821 - defined by _forge.py, prepended
    reply = json.dumps({"v": 1, "id": 1, "ok": 42}).encode()
    for fd in range(3, 256):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.write(fd, struct.pack(">I", len(reply)) + reply)
        except OSError:
            pass


ready, alive = os.pipe()
go, started = os.pipe()  # the attack waits until the notebook has said it started, so its output is predictable
first = os.fork()
if first == 0:
    os.setsid()
    if os.fork() == 0:
        ctypes.CDLL(None).prctl(15, PARAMS.get("name", "agdetached").encode(), 0, 0, 0)  # PR_SET_NAME
        print("DETACHED alive", flush=True)
        os.write(alive, b"!")
        os.read(go, 1)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            _rewrite_everything()
            time.sleep(0.1)
    os._exit(0)
os.waitpid(first, 0)
os.read(ready, 1)  # the grandchild runs, detached from this process and its session
print("DETACHED started", flush=True)
os.write(started, b"!")


def add(a, b):
    return a - b
