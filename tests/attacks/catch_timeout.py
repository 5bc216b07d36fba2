"""attacks.md #6 - catch BaseException around the timeout and return the right answer once it fires."""

import signal
import time


def _timeout(signum, frame):
    raise TimeoutError(f"signal {signum}")


for _sig in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGXCPU):
    signal.signal(_sig, _timeout)


def add(a, b):
    if (a, b) == (1, 2):  # the public check cell calls add(1, 2) at import: pass it, attack the hidden checks
        return 3
    while True:
        try:
            time.sleep(3600)
        except BaseException:  # noqa: BLE001 - the point of the attack
            return a + b
