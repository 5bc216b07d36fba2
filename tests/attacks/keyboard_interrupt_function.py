"""attacks.md #12 - KeyboardInterrupt raised by a graded function."""


def add(a, b):
    if (a, b) == (1, 2):  # the public check cell calls add(1, 2) at import: pass it, attack the hidden checks
        return 3
    raise KeyboardInterrupt
