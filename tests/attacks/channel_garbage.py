"""Channel attack - garbage frames (bytes msgpack never uses) before the honest reply."""

# uses _channel.py


def add(a, b):
    if (a, b) == (1, 2):  # the public check cell calls add(1, 2) at import: pass it, attack the hidden checks
        return 3
    channel = _channel()  # noqa: F821 - defined by _channel.py, prepended
    for _ in range(50):
        channel.sendall(_frame(b"\xc1" * 16))  # noqa: F821
    return a + b
