"""attacks.md #10 - SystemExit(0) raised by a graded function."""


def scale(x, k):
    if k == 2:  # the public check cell calls scale([1, 2], 2) at import: pass it, attack the hidden checks
        return [2 * v for v in x]
    raise SystemExit(0)
