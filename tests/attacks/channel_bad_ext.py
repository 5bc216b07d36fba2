"""Channel attack - well-framed replies carrying values that may not cross: an object-dtype array, an unknown
extension type, an array whose bytes do not match its shape, and a reply nested 100,000 deep."""

# uses _channel.py

import msgpack


def _ext(code, payload):
    return msgpack.ExtType(code, msgpack.packb(payload, use_bin_type=True))


def _marked(code, *fields):  # protocol version 2: an array whose first item is an empty extension of `code`
    return [msgpack.ExtType(code, b""), *fields]


def add(a, b):
    if (a, b) == (1, 2):  # the public check cell calls add(1, 2) at import: pass it, attack the hidden checks
        return 3
    channel = _channel()  # noqa: F821 - defined by _channel.py, prepended
    channel.sendall(_message({"v": 2, "id": 0, "ok": _marked(2, "|O", b"\0" * 8, 1)}))  # noqa: F821
    return a + b


def scale(x, k):
    if k == 2:  # the public check cell calls scale([1, 2], 2) at import: pass it, attack the hidden checks
        return [2 * v for v in x]
    channel = _channel()  # noqa: F821
    channel.sendall(_message({"v": 2, "id": 0, "ok": _ext(99, [1, 2, 3])}))  # noqa: F821
    channel.sendall(_message({"v": 2, "id": 0, "ok": _marked(2, "<f8", b"\0" * 7, 4)}))  # noqa: F821
    channel.sendall(_frame(b"\x91" * 100_000 + b"\xc0"))  # noqa: F821
    return x
