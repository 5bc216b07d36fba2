"""Channel attack - a length header of 4 GiB (over the message cap) before the honest reply."""

# uses _channel.py

import struct


def add(a, b):
    if (a, b) == (1, 2):  # the public check cell calls add(1, 2) at import: pass it, attack the hidden checks
        return 3
    _channel().sendall(struct.pack(">I", 0xFFFFFFFF))  # noqa: F821 - defined by _channel.py, prepended
    return a + b
