"""Channel attack - a reply that arrives one byte per second: every single read is quick, the whole one never ends."""

# uses _channel.py

import struct
import time


def add(a, b):
    if (a, b) == (1, 2):  # the public check cell calls add(1, 2) at import: pass it, attack the hidden checks
        return 3
    channel = _channel()  # noqa: F821 - defined by _channel.py, prepended
    channel.sendall(struct.pack(">I", 1000))
    for _ in range(1000):
        time.sleep(1)
        channel.sendall(b"\xc0")
    return a + b
