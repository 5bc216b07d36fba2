"""The runner message format (version 2): every kind the course sends crosses as its exact base type, what may
not cross is refused on both sides, and a corpus of hostile replies is refused in bounded time and memory.

The trusted side decodes replies written by code we do not trust; the corpus below is what an attacker who has
read autograder/protocol.py would send. Each case asserts the outcome (a plain reason, or ProtocolError), that
decoding took well under a second of CPU, and that the trusted side's memory stayed within
``3 × body + 80 bytes per value + 256 KiB`` (tracemalloc); replies the scan refuses allocate under 64 KiB.
"""

from __future__ import annotations

import math
import socket
import struct
import threading
import time
import tracemalloc
from typing import Any

import msgpack
import numpy as np
import pytest
import torch

from autograder import protocol as P

LIMITS = P.DEFAULT_LIMITS


def body_of(value: Any, limits: P.DecodeLimits = LIMITS) -> bytes:
    """The body of the reply the runner sends for ``value``."""
    return P.encode({"v": P.VERSION, "id": 1, "ok": value}, limits)[P.HEADER.size:]


def crossed(value: Any) -> Any:
    """What the trusted side gets when the sandbox sends ``value`` as a reply."""
    return P.decode(body_of(value))["ok"]


def same(a: Any, b: Any) -> bool:
    """Exact equality: the same type at every level and the same value, bit for bit (so NaN equals NaN and
    -0.0 differs from 0.0); arrays and tensors by dtype, shape, bytes (and requires_grad)."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return struct.pack("<d", a) == struct.pack("<d", b)
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is dict:
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if type(a) is np.ndarray or isinstance(a, np.generic):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if type(a) is torch.Tensor:
        return (a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
                and a.device == b.device and _tensor_bytes(a) == _tensor_bytes(b))
    return a == b


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    flat = tensor.detach().cpu().contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""


# --- every kind the course sends crosses exactly ------------------------------------------------------------

NAMES = ["emma", "olivia", "ava", "isabella", "sophia"]
ROUND_TRIPS = {
    "plain values": {"a": (1, 2.5, "s", b"b", None, True), "l": [1, [2, (3,)]], 7: "int key", -2**63: 2**64 - 1},
    "empty and nested tuples": [(), ((),), (1, (2, (3, ()))), [()]],
    "tuple keys (week 1 count_ngrams)": {("the", "cat"): 2, ("cat", "sat"): 1, (): 0, ((1, 2), "x"): 3},
    "week 1 sampling probe: 20,000 ints": [i * 7 % 27 for i in range(20_000)],
    "week 1 tokens": list("mississippi") + ["it's", "rock'n'roll", ""],
    "week 1 count matrix (int64)": np.arange(27 * 27, dtype=np.int64).reshape(27, 27),
    "week 1 probabilities (float64, not contiguous)": np.linspace(0, 1, 54).reshape(6, 9)[:, ::2],
    "a 0-d array": np.array(2.5),
    "numpy scalars": [np.int64(3), np.float32(0.5), np.bool_(True), np.uint8(255), np.complex128(1 - 2j)],
    "str and bytes arrays": [np.array(NAMES), np.array([b"ab", b"c"]), np.array([], dtype="<U3")],
    "bool and empty arrays": [np.array([True, False]), np.empty((0, 3)), np.zeros((2, 0, 4), dtype=np.int8)],
    "week 2 parameters and losses": ({"W_ih": torch.randn(4, 3, generator=torch.Generator().manual_seed(0)),
                                      "b": torch.zeros(4, dtype=torch.float64)}, [2.3, 2.1, float("nan")]),
    "week 2 encoded names (int64 tensors)": (torch.arange(12).reshape(2, 6), torch.full((2, 6), -100)),
    "week 3 attention outputs": (torch.rand(2, 3, 4, dtype=torch.float64), torch.rand(2, 3, 3)),
    "tensors of every dtype": [(torch.arange(6) % 2).to(dtype).reshape(2, 3) for dtype in (
        torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.int16,
        torch.int8, torch.uint8, torch.bool, torch.complex64, torch.complex128)],
    "0-d, empty and grad tensors": [torch.tensor(3.0), torch.empty(0, 3), torch.ones(2, requires_grad=True)],
    "handles": [P.Handle(1), {"model": P.Handle(2)}],
    "floats bit for bit": [0.0, -0.0, float("inf"), -float("inf"), float("nan"), 5e-324, 1.7976931348623157e308],
}


@pytest.mark.parametrize("value", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_every_kind_the_course_sends_crosses_exactly(value: Any):
    back = crossed(value)
    assert same(back, value), back


def test_arrays_and_tensors_come_back_writable_and_independent():
    array, tensor = crossed(np.zeros(3)), crossed(torch.zeros(3))
    array[0], tensor[0] = 1.0, 1.0
    assert array.tolist() == [1.0, 0.0, 0.0] and tensor.tolist() == [1.0, 0.0, 0.0]
    grad = crossed(torch.ones(2, requires_grad=True))
    assert grad.requires_grad and grad.grad_fn is None


def test_subclasses_cross_as_their_exact_base_type_with_their_real_data():
    class Forged(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            if func in (torch.allclose, torch.equal, torch.Tensor.__eq__):
                return True
            return super().__torch_function__(func, types, args, kwargs or {})

    class EqualArray(np.ndarray):
        def __eq__(self, other):
            return True

        def __array_function__(self, func, types, args, kwargs):
            return True

    class EqualInt(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    class Liar(str):
        def __eq__(self, other):
            return True

        __hash__ = str.__hash__

    class Pairs(tuple):  # a tuple subclass, as namedtuples are
        def __iter__(self):
            return iter([99])

    forged = torch.zeros(3, dtype=torch.float64).as_subclass(Forged)
    assert torch.allclose(forged, torch.ones(3, dtype=torch.float64))  # the attack works where it lives
    tensor = crossed(forged)
    assert type(tensor) is torch.Tensor and tensor.dtype == torch.float64 and tensor.tolist() == [0.0, 0.0, 0.0]
    assert not torch.allclose(tensor, torch.ones(3, dtype=torch.float64))
    array = crossed(np.zeros(3).view(EqualArray))
    assert type(array) is np.ndarray and array.tolist() == [0.0, 0.0, 0.0]
    assert not np.allclose(array, np.ones(3))
    number = crossed(EqualInt(0))
    assert type(number) is int and number != 42
    assert crossed((1, [EqualInt(2)])) == (1, [2])
    assert type(crossed(Liar("x"))) is str and crossed(Liar("x")) != "y"
    assert same(crossed(Pairs((1, 2))), (1, 2))  # the tuple's own items, not what its __iter__ claims
    assert same(crossed([bytearray(b"x"), memoryview(b"yz")]), [b"x", b"yz"])  # bytes-like data crosses as bytes


def test_objects_that_are_not_plain_data_do_not_cross():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    for value in (AlwaysEqual(), [1, AlwaysEqual()], np.array([AlwaysEqual()], dtype=object), {1, 2},
                  np.array(["2020-01-01"], dtype="datetime64[s]")):
        with pytest.raises(P.Unencodable) as refused:
            P.encode({"v": P.VERSION, "id": 1, "ok": value})
        assert not refused.value.over_limit


# --- the encoder refuses what the decoder would, with Unencodable only ---------------------------------------

def _nested(depth: int, leaf: Any = 0) -> list:
    value: Any = leaf
    for _ in range(depth):
        value = [value]
    return value


def _self_referential() -> list:
    value: list = [1]
    value.append(value)
    return value


def _cyclic_dict() -> dict:
    value: dict = {}
    value["me"] = [value]
    return value


def _doubling(times: int) -> list:
    """A value of 2**times leaves built from `times` lists: walking it naively would never end."""
    value: list = [0]
    for _ in range(times):
        value = [value, value]
    return value


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no")


class HostileArray(np.ndarray):
    @property
    def dtype(self):
        raise Unprintable()


UNENCODABLE = {
    "a list that contains itself": (_self_referential(), "a value that contains itself"),
    "a dict that contains itself": (_cyclic_dict(), "a value that contains itself"),
    "nested 65 deep": (_nested(65), "a value nested deeper than 64 levels"),
    "nested 100,000 deep": (_nested(100_000), "a value nested deeper than 64 levels"),
    "a tensor 65 levels down": (_nested(64, torch.zeros(1)), "a value nested deeper than 64 levels"),
    "2**60 leaves from 60 shared lists": (_doubling(60), "more than 1,000,000 values in one reply"),
    "1,000,001 ints": ([0] * 1_000_001, "more than 1,000,000 values in one reply"),
    "100,001 tensors": ([torch.zeros(0)] * 100_001, "more than 100,000 arrays and tensors in one reply"),
    "an int over 64 bits": (2**64, "an integer outside the 64-bit range"),
    "a lone surrogate": ("\ud800", "a value that cannot be packed (UnicodeEncodeError"),
    "an array whose dtype raises what cannot be printed": (np.zeros(2).view(HostileArray),
                                                           "a value that cannot be packed (Unprintable: )"),
}


@pytest.mark.parametrize(("value", "reason"), UNENCODABLE.values(), ids=UNENCODABLE.keys())
def test_values_that_may_not_cross_raise_unencodable_and_nothing_else(value: Any, reason: str):
    started = time.process_time()
    with pytest.raises(P.Unencodable) as refused:
        P.encode({"v": P.VERSION, "id": 1, "ok": value})
    assert refused.value.reason.startswith(reason)
    assert refused.value.over_limit == reason.startswith(("a value nested", "more than"))
    assert time.process_time() - started < 1


def test_the_encoder_and_the_decoder_agree_on_the_depth_limit():
    assert crossed(_nested(64)) == _nested(64)
    assert crossed(_nested(63, (1,))) == _nested(63, (1,))
    assert same(crossed(_nested(63, np.zeros(2))), _nested(63, np.zeros(2)))
    too_deep = b"\x83\xa1v\x02\xa2id\x01\xa2ok" + b"\x91" * 65 + b"\xc0"  # what _nested(65) would have been
    with pytest.raises(P.LimitError, match="^a value nested deeper than 64 levels$"):
        P.decode(too_deep)


def test_shared_values_cross_as_copies():
    shared = [1, 2]
    back = crossed([shared, shared, (shared,)])
    assert back == [[1, 2], [1, 2], ([1, 2],)] and back[0] is not back[1]
    assert len(crossed(_doubling(10))) == 2  # 2**10 leaves from 10 lists: counted, not walked


# --- malformed messages and the hostile corpus ---------------------------------------------------------------

ENVELOPE = b"\x83\xa1v\x02\xa2id\x01\xa2ok"  # {"v": 2, "id": 1, "ok": <the value that follows>}
FLOAT_T = b"\xa7float32"


def reply(value: bytes) -> bytes:
    return ENVELOPE + value


def marker(code: int) -> bytes:
    return b"\xc7\x00" + bytes([code])


def array32(count: int) -> bytes:
    return b"\xdd" + count.to_bytes(4, "big")


def packed(value: Any) -> bytes:
    """``value`` packed by plain msgpack (markers written as ExtType by hand)."""
    return msgpack.packb({"v": P.VERSION, "id": 1, "ok": value}, use_bin_type=True)


def mark(code: int, *fields: Any) -> list:
    return [msgpack.ExtType(code, b""), *fields]


_MASK = 2**64 - 1
_XXPRIME_1, _XXPRIME_2, _XXPRIME_5 = 11400714785074694791, 14029467366897019727, 2870177450012600261


def colliding_pairs(count: int, target: int = 12345) -> list[tuple[int, int]]:
    """``count`` pairs of ints whose tuples all hash to ``target``: CPython's tuple hash (xxHash rounds over the
    items' hashes) is inverted for the second item. A dict of them costs count²/2 comparisons to build."""
    def rotate(x: int, r: int) -> int:
        return ((x << r) | (x >> (64 - r))) & _MASK

    want = (target - (2 ^ (_XXPRIME_5 ^ 3527539))) & _MASK  # the state before the length is mixed in
    before_last = rotate((want * pow(_XXPRIME_1, -1, 2**64)) & _MASK, 64 - 31)
    pairs, a = [], 0
    while len(pairs) < count:
        a += 1
        after_first = (rotate((_XXPRIME_5 + a * _XXPRIME_2) & _MASK, 31) * _XXPRIME_1) & _MASK
        b = ((before_last - after_first) * pow(_XXPRIME_2, -1, 2**64)) & _MASK
        b = b - 2**64 if b >= 2**63 else b
        if abs(b) < 2**61 - 1 and b != -1:  # then hash(b) == b
            pairs.append((a, b))
    return pairs


def colliding_dict(count: int) -> bytes:
    """A reply holding a dict of ``count`` tuple keys that all share one hash."""
    keys = (b"\x93" + marker(1) + msgpack.packb(a) + msgpack.packb(b) for a, b in colliding_pairs(count))
    return reply(b"\xdf" + count.to_bytes(4, "big") + b"\x00".join(keys) + b"\x00")


def v1_nested_tuples(depth: int) -> bytes:
    """A reply of ``depth`` nested 1-tuples as version 1 sent them: each an extension whose payload is a message."""
    data = msgpack.packb(None)
    for _ in range(depth):
        data = msgpack.packb(msgpack.ExtType(1, b"\x91" + data))
    return reply(data)


TENSOR_0 = b"\x96" + marker(4) + FLOAT_T + b"\xc4\x00\xa3cpu\xc2\x00"  # an empty float32 tensor, shape (0,)
ARRAY_0 = b"\x94" + marker(2) + b"\xa3<f8\xc4\x00\x00"                  # an empty float64 array, shape (0,)
DEEP = "a value nested deeper than 64 levels"
MANY = "more than 1,000,000 values in one reply"
MANY_ARRAYS = "more than 100,000 arrays and tensors in one reply"
COLLIDING = "a dict with more than 16 keys of the same hash"

# name -> (body, the LimitError reason, or a fragment of the ProtocolError message)
HOSTILE = {
    # nesting
    "lists nested 100,000 deep": (reply(b"\x91" * 100_000 + b"\xc0"), DEEP),
    "dicts nested 100,000 deep": (reply(b"\x81\xc0" * 100_000 + b"\xc0"), DEEP),
    "tuples nested 400 deep (crashed version 1)": (reply((b"\x92" + marker(1)) * 400 + b"\xc0"), DEEP),
    "lists, dicts and tuples nested 10,000 deep": (
        reply((b"\x91\x81\xa1k\x92" + marker(1)) * 2500 + b"\xc0"), DEEP),
    "a dict key nested 100 deep": (reply(b"\x81" + (b"\x92" + marker(1)) * 100 + b"\xc0\xc0"), DEEP),
    "an array 65 levels down": (reply(b"\x91" * 64 + ARRAY_0), DEEP),
    "version-1 tuples nested in extension payloads": (v1_nested_tuples(400), "extension type 1 carrying data"),
    # amplification
    "1,000,000 empty dicts": (reply(array32(10**6) + b"\x80" * 10**6), MANY),
    "1,000,000 empty lists": (reply(array32(10**6) + b"\x90" * 10**6), MANY),
    "1,000,000 nils": (reply(array32(10**6) + b"\xc0" * 10**6), MANY),
    "1,000,000 two-letter strs": (reply(array32(10**6) + b"\xa2ab" * 10**6), MANY),
    "500,001 one-entry dicts": (reply(array32(500_001) + b"\x81\x01\x02" * 500_001), MANY),
    "100,001 empty tensors": (reply(array32(100_001) + TENSOR_0 * 100_001), MANY_ARRAYS),
    "100,001 empty arrays": (reply(array32(100_001) + ARRAY_0 * 100_001), MANY_ARRAYS),
    "20,000 tuple keys of one hash": (colliding_dict(20_000), COLLIDING),  # unguarded: 3.7 s of CPU here
    # lengths
    "a list declaring 4 billion items": (reply(b"\xdd\xff\xff\xff\xff" + b"\x00" * 100), "declares"),
    "a dict declaring 4 billion entries": (reply(b"\xdf\xff\xff\xff\xff" + b"\x00" * 100), "declares"),
    "bytes declaring 4 GiB": (reply(b"\xc6\xff\xff\xff\xff" + b"x" * 100), "truncated"),
    "a str declaring 4 GiB": (reply(b"\xdb\xff\xff\xff\xff" + b"x" * 100), "truncated"),
    "an extension declaring 4 GiB": (reply(b"\xc9\xff\xff\xff\xff\x01" + b"x" * 100), "carrying data"),
    "a tensor declaring 2**40 x 2**40 elements": (packed(mark(4, "float64", b"", "cpu", False, 2**40, 2**40)),
                                                  "tensor size does not match"),
    "an array of 33 dimensions": (packed(mark(2, "<f8", b"\0" * 8, *[1] * 33)), "malformed array"),
    "a dtype string of 1 MB": (packed(mark(2, "<" * 10**6, b"", 0)), "unknown array dtype"),
    # extensions and markers
    "an extension inside an extension": (packed(msgpack.ExtType(2, msgpack.packb(
        [msgpack.ExtType(1, b""), "<f8", b"", 0]))), "extension type 2 carrying data"),
    "a marker second in a list": (reply(b"\x92\xc0" + marker(1)), "out of place"),
    "a marker as a dict value": (reply(b"\x81\xc0" + marker(1)), "out of place"),
    "a marker as the reply itself": (reply(marker(1)), "out of place"),
    "a marker as a dict key": (reply(b"\x81" + marker(1) + b"\xc0"), "out of place"),
    "a marker carrying data": (reply(b"\x91\xc7\x01\x01\x00"), "carrying data"),
    "a timestamp extension": (reply(b"\x91\xd6\xff\x00\x00\x00\x01"), "unknown extension type -1"),
    "an unknown extension": (reply(b"\x91" + marker(99)), "unknown extension type 99"),
    "a marked array of the wrong shape": (packed(mark(5, "1")), "malformed handle"),
    # strings, keys, values
    "an invalid UTF-8 key": (b"\x83\xa1v\x02\xa2id\x01\xa2\xff\xfe\x01", "UnicodeDecodeError"),
    "an invalid UTF-8 str": (reply(b"\xa2\xc3\x28"), "UnicodeDecodeError"),
    "a list as a dict key": (reply(b"\x81\x91\x01\xc0"), "TypeError"),
    "lists as keys of a big dict": (reply(b"\xde\x00\x40" + b"\x91\x01\xc0" * 64), "cannot be a key"),
    "an array as a dict key": (reply(b"\x81" + ARRAY_0 + b"\xc0"), "TypeError"),
    "a bool array holding 2": (packed(mark(2, "|b1", b"\x02", 1)), "bytes other than 0 and 1"),
    "a bool tensor holding 255": (packed(mark(4, "bool", b"\xff", "cpu", False, 1)), "bytes other than 0 and 1"),
    "an object array": (packed(mark(2, "|O", b"\0" * 8, 1)), "array dtype object may not cross"),
    "a datetime array": (packed(mark(2, "<M8[s]", b"\0" * 8, 1)), "may not cross"),
    "a structured array": (packed(mark(2, "i4,i4", b"\0" * 8, 1)), "may not cross"),
    "an array size mismatch": (packed(mark(2, "<f8", b"\0" * 7, 1)), "size does not match"),
    "a huge array shape": (packed(mark(2, "<f8", b"", 2**40, 2**40)), "size does not match"),
    "a negative shape": (packed(mark(2, "<f8", b"", -1)), "malformed array"),
    "an unknown tensor dtype": (packed(mark(4, "object", b"\0" * 8, "cpu", False, 1)), "malformed tensor"),
    "a tensor size mismatch": (packed(mark(4, "float64", b"\0" * 8, "cpu", False, 2)), "size does not match"),
    "a scalar missing its data": (packed(mark(3, "<f8")), "malformed array"),
    # framing
    "garbage": (b"\xc1" * 16, "malformed message (byte 0xc1"),
    "truncated": (packed("x" * 100)[:-10], "truncated"),
    "trailing bytes": (reply(b"\xc0") + b"\xc0", "bytes after the message"),
    "empty": (b"", "truncated"),
    "not a map": (msgpack.packb([1, 2, 3]), "not a version-2 message"),
    "version 1": (msgpack.packb({"v": 1, "id": 1, "ok": 1}), "not a version-2 message"),
}


def _refused(body: bytes, limits: P.DecodeLimits = LIMITS) -> P.ProtocolError:
    with pytest.raises(P.ProtocolError) as refused:
        P.decode(body, limits)
    return refused.value


# tracemalloc slows the scan about 25-fold; these three long scans are traced under limits cut tenfold, so that
# they stop ten times sooner (the scan's memory is its nesting stack, whatever distance it has covered)
LONG_SCANS = {"500,001 one-entry dicts", "100,001 empty tensors", "100,001 empty arrays"}
TRACED_LIMITS = P.DecodeLimits(max_objects=LIMITS.max_objects // 10, max_arrays=LIMITS.max_arrays // 10)


@pytest.mark.parametrize(("name", "body", "expected"), [(k, *v) for k, v in HOSTILE.items()], ids=HOSTILE.keys())
def test_hostile_replies_are_refused_in_bounded_time_and_memory(name: str, body: bytes, expected: str):
    started = time.process_time()
    error = _refused(body)
    took = time.process_time() - started
    if expected in (DEEP, MANY, MANY_ARRAYS, COLLIDING):
        assert type(error) is P.LimitError and error.reason == expected
    else:
        assert type(error) is P.ProtocolError and expected in str(error)
    assert took < 0.5, f"{took:.2f} s of CPU to refuse it"

    limits = TRACED_LIMITS if name in LONG_SCANS else LIMITS
    tracemalloc.start()
    try:
        _refused(body, limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 3 * len(body) + 80 * min(len(body), LIMITS.max_objects) + 256 * 1024
    try:
        P.scan(body, limits)
    except P.ProtocolError:  # refused before anything was built
        assert peak < 64 * 1024


WORST_ACCEPTED = {
    "999,990 empty dicts": reply(array32(999_990) + b"\x80" * 999_990),
    "999,990 two-letter strs": reply(array32(999_990) + b"\xa2ab" * 999_990),
    "999,990 negative ints": reply(array32(999_990) + b"\xe0" * 999_990),
    "10,000 empty tensors": reply(array32(10_000) + TENSOR_0 * 10_000),
    "a 16 MB float64 tensor": body_of(torch.zeros(2 * 1024 * 1024, dtype=torch.float64)),
}


@pytest.mark.parametrize("body", WORST_ACCEPTED.values(), ids=WORST_ACCEPTED.keys())
def test_the_largest_replies_under_the_limits_stay_within_the_memory_bound(body: bytes):
    tracemalloc.start()
    try:
        value = P.decode(body)["ok"]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert type(value) in (list, torch.Tensor)
    assert peak <= 3 * len(body) + 80 * min(len(body), LIMITS.max_objects) + 256 * 1024


def test_the_limits_are_the_decoders_own():
    tight = P.DecodeLimits(max_depth=2, max_objects=20, max_arrays=1, max_same_hash_keys=2)
    with pytest.raises(P.LimitError, match="^a value nested deeper than 2 levels$"):
        P.decode(body_of([[[1]]]), tight)
    with pytest.raises(P.LimitError, match="^more than 20 values in one reply$"):
        P.decode(body_of(list(range(20))), tight)
    with pytest.raises(P.LimitError, match="^more than 1 arrays and tensors in one reply$"):
        P.decode(body_of([np.zeros(1), torch.zeros(1)]), tight)
    with pytest.raises(P.LimitError, match="^a dict with more than 2 keys of the same hash$"):
        P.decode(body_of({(a, b): 0 for a, b in colliding_pairs(5)}), P.DecodeLimits(max_same_hash_keys=2))
    assert P.decode(body_of([[1]]), tight)["ok"] == [[1]]
    with pytest.raises(P.LimitError, match="^more than 8 values in one reply$"):  # the last value a bytes
        P.decode(body_of([None, b""]), P.DecodeLimits(max_objects=8))
    assert P.decode(body_of([None, b""]), P.DecodeLimits(max_objects=9))["ok"] == [None, b""]
    assert P.decode(body_of(()), P.DecodeLimits(max_objects=7))["ok"] == ()  # a marker is not a value
    with pytest.raises(P.Unencodable, match="nested deeper than 2 levels"):
        body_of([[[1]]], tight)


def test_a_dict_with_a_few_equal_hashes_still_crosses():
    keys = colliding_pairs(LIMITS.max_same_hash_keys)
    value = {key: i for i, key in enumerate(keys)} | {(0.5, i): i for i in range(100)}
    assert crossed(value) == value


# --- time: decoding counts against the deadline --------------------------------------------------------------

def test_decoding_past_the_deadline_raises_timeout():
    big = reply(array32(200_000) + b"\x01\xcc\xff" * 100_000)  # mixed widths: the scan takes one step each
    with pytest.raises(TimeoutError):
        P.decode(big, deadline=time.monotonic() - 1)  # caught by the scan's own look at the clock
    with pytest.raises(TimeoutError):
        P.decode(body_of(1), deadline=time.monotonic() - 1)  # too short for that: caught once decoded


def test_read_message_counts_decoding_against_the_deadline():
    """A reply that arrives at once but takes ~800,000 scan steps (>0.2 s) to check: cut at the deadline."""
    body = reply(array32(4 * 200_000) + b"\x01\xcc\xff\xa1a\xd0\x80" * 200_000)
    ours, theirs = socket.socketpair()

    def send() -> None:
        try:
            theirs.sendall(P.HEADER.pack(len(body)) + body)
        except OSError:  # we stopped reading
            pass

    with ours, theirs:
        sender = threading.Thread(target=send)
        sender.start()
        started = time.monotonic()
        try:
            with pytest.raises(TimeoutError):
                P.read_message(ours, deadline=started + 0.02)
            assert time.monotonic() - started < 1
        finally:
            ours.shutdown(socket.SHUT_RDWR)
            sender.join()


# --- framing over a socket ----------------------------------------------------------------------------------

def test_an_oversized_header_is_refused_before_anything_is_read():
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with mine, theirs:
        theirs.sendall(struct.pack(">I", 0xFFFFFFFF))  # and never a body
        mine.settimeout(5)
        started = time.monotonic()
        with pytest.raises(P.ProtocolError, match="over the 1048576-byte limit"):
            P.read_message(mine, 1 << 20)
        assert time.monotonic() - started < 1


def test_messages_cross_a_socket_whole():
    mine, theirs = socket.socketpair()
    value = {"x": [torch.arange(3), (1, "a")], "n": math.pi}
    with mine, theirs:
        sender = threading.Thread(target=P.write_message, args=(theirs, {"id": 7, "ok": value}))
        sender.start()
        message = P.read_message(mine, deadline=time.monotonic() + 10)
        sender.join()
    assert message["v"] == P.VERSION and message["id"] == 7 and same(message["ok"], value)


def test_a_peer_that_closes_mid_message_is_an_eof():
    mine, theirs = socket.socketpair()
    with mine:
        theirs.sendall(P.HEADER.pack(100) + b"\x83")
        theirs.close()
        with pytest.raises(EOFError):
            P.read_message(mine)
