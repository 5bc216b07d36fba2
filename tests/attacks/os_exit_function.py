"""attacks.md #9 - os._exit(0) inside a graded function: exit status 0, no reply."""

import os


def add(a, b):
    if (a, b) == (1, 2):  # the public check cell calls add(1, 2) at import: pass it, attack the hidden checks
        return 3
    os._exit(0)
