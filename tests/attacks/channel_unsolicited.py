"""Channel attack - a flood of well-formed, unsolicited replies (unknown ids, forged values) before the honest one."""

# uses _channel.py


def add(a, b):
    if (a, b) == (1, 2):  # the public check cell calls add(1, 2) at import: pass it, attack the hidden checks
        return 3
    channel = _channel()  # noqa: F821 - defined by _channel.py, prepended
    for n in range(1000):
        channel.sendall(_message({"v": 2, "id": 10**6 + n, "ok": 42}))  # noqa: F821
    return a + b
