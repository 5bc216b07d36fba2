"""Fuzzing the trusted side's message decoder with Hypothesis: over 10,000 generated messages per run.

Properties: whatever the bytes, ``decode`` returns a dict or raises ProtocolError (LimitError included) and
nothing else escapes (a crash of the C unpacker would take pytest down with it); every value the course can
send round-trips exactly, type and bits; the encoder refuses exactly what the decoder refuses over a limit.
Runs are reproducible (``derandomize``: the examples depend only on the test and the pinned Hypothesis), keep
no example database, and Hypothesis's caches go to the system's temp folder, never into the repository.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from autograder import protocol as P

from .test_protocol import ARRAY_0, ENVELOPE, TENSOR_0, marker, same

# Hypothesis caches (unicode tables, constants) go to the system's temp folder, never into the repository.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "autograder-hypothesis")
FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                suppress_health_check=list(HealthCheck))


def fuzz(examples: int, check: Callable[..., int], *strategies: st.SearchStrategy) -> int:
    """Run ``check`` on ``examples`` generated inputs; the number of messages it decoded in all."""
    seen, decoded = [0], [0]

    @settings(FUZZ, max_examples=examples)
    @given(st.tuples(*strategies))
    def run(args: tuple[Any, ...]) -> None:
        seen[0] += 1
        decoded[0] += check(*args)

    run()
    assert seen[0] >= examples
    return decoded[0]


def decodes_or_refuses(*bodies: bytes) -> int:
    """The decoder's contract on any bytes: a dict, or ProtocolError; TypeError, ValueError... would escape."""
    for body in bodies:
        try:
            message = P.decode(body)
        except P.ProtocolError as error:
            assert isinstance(error.args[0], str) and error.args[0]
            if isinstance(error, P.LimitError):
                assert error.reason == error.args[0]
            continue
        assert type(message) is dict and message["v"] == P.VERSION
    return len(bodies)


# --- plain data the course sends ----------------------------------------------------------------------------

INTS = st.integers(-2**63, 2**64 - 1)
SCALARS = st.one_of(st.none(), st.booleans(), INTS, st.floats(), st.text(max_size=12), st.binary(max_size=12))
KEYS = st.one_of(st.text(max_size=6), INTS, st.floats(allow_nan=False),
                 st.tuples(st.text(max_size=3), st.integers(0, 30)), st.tuples())
NUMPY_DTYPES = ["<f8", "<f4", "<f2", ">f8", "<i8", "<i4", ">i4", "<i2", "|i1", "|u1", "<u2", "<u4", "<u8", "|b1",
                "<c8", "<c16", "<U3", "|S2"]
TORCH_DTYPES = {"<f8": torch.float64, "<f4": torch.float32, "<f2": torch.float16, "<i8": torch.int64,
                "<i4": torch.int32, "<i2": torch.int16, "|i1": torch.int8, "|u1": torch.uint8, "|b1": torch.bool,
                "<c8": torch.complex64, "<c16": torch.complex128}
SHAPES = st.lists(st.integers(0, 4), max_size=3)


@st.composite
def arrays(draw: st.DrawFn, dtypes: list[str] = NUMPY_DTYPES, shapes: st.SearchStrategy = SHAPES) -> np.ndarray:
    """An array of any bits (NaNs, infinities, subnormals and all): its bytes are drawn, not its values (bools
    are 0 or 1, and str code points stay under 65,536, as numpy makes them)."""
    dtype, shape = np.dtype(draw(st.sampled_from(dtypes))), draw(shapes)
    size = dtype.itemsize * math.prod(shape)
    raw = draw(st.binary(min_size=size, max_size=size))
    if dtype.kind == "b":
        raw = bytes(b & 1 for b in raw)
    if dtype.kind == "U":
        raw = bytes(b if i % 4 < 2 else 0 for i, b in enumerate(raw))
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


NUMPY_SCALARS = arrays(shapes=st.just([])).map(lambda array: array[()])


@st.composite
def tensors(draw: st.DrawFn) -> torch.Tensor:
    tensor = torch.from_numpy(draw(arrays(sorted(TORCH_DTYPES))))
    if tensor.dtype == torch.float32 and draw(st.booleans()):
        tensor = tensor.to(torch.bfloat16)
    if tensor.is_floating_point() and draw(st.booleans()):
        tensor.requires_grad_(True)
    return tensor


LEAVES = st.one_of(SCALARS, arrays(), NUMPY_SCALARS, tensors(), st.integers(0, 2**63).map(P.Handle))
VALUES = st.recursive(LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.lists(inner, max_size=4).map(tuple), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12)


def round_trips(value: Any, request_id: int) -> int:
    message = {"v": P.VERSION, "id": request_id, "ok": value}
    assert same(P.decode(P.encode(message)[P.HEADER.size:]), message)
    return 1


def test_every_value_of_plain_data_round_trips_exactly():
    assert fuzz(1000, round_trips, VALUES, st.integers(0, 2**31)) >= 1000


# --- random and mutated bytes --------------------------------------------------------------------------------

def test_random_bytes_decode_or_are_refused():
    bodies = st.one_of(st.binary(max_size=200), st.binary(max_size=200).map(lambda tail: ENVELOPE + tail))
    assert fuzz(3500, decodes_or_refuses, bodies) >= 3500


LENGTH_HEADERS = [b"\xdc", b"\xdd", b"\xde", b"\xdf", b"\xc4", b"\xc5", b"\xc6", b"\xd9", b"\xda", b"\xdb",
                  b"\xc7", b"\xc8", b"\xc9"]


MUTATIONS = st.lists(st.tuples(st.sampled_from(["flip", "truncate", "splice", "insert", "length", "marker"]),
                                st.floats(0, 1), st.integers(0, 2**32 - 1), st.binary(min_size=1, max_size=8)),
                      min_size=1, max_size=4)


def mutate(body: bytes, mutations: list[tuple[str, float, int, bytes]]) -> bytes:
    """``body`` hit by bit flips, truncation, splices, insertions, changed length fields or stray markers."""
    data = bytearray(body)
    for how, where, number, extra in mutations:
        at = int(where * len(data))
        if how == "flip" and at < len(data):
            data[at] ^= 1 << (number % 8)
        elif how == "truncate":
            del data[at:]
        elif how == "splice":  # a piece of the message copied elsewhere in it
            start = number % (len(data) + 1)
            data[at:at] = data[start:start + 1 + number % 16]
        elif how == "insert":
            data[at:at] = extra
        elif how == "length":  # a length field made huge, zero, or off by a little
            size = [0, 1, 0xFFFF, 0xFFFFFFFF, len(data), len(data) + 1, 10**6][number % 7]
            data[at:at + 5] = LENGTH_HEADERS[number % len(LENGTH_HEADERS)] + size.to_bytes(4, "big")
        elif how == "marker":  # a marker where it may not be, or carrying data
            data[at:at] = [marker(number % 7), b"\xd4\x01\x00", b"\xc7\x01\x02"][number % 3]
    return bytes(data)


def mutated_messages(value: Any, *mutation_lists: list) -> int:
    body = P.encode({"v": P.VERSION, "id": 1, "ok": value})[P.HEADER.size:]
    return decodes_or_refuses(*(mutate(body, mutations) for mutations in mutation_lists))


def test_mutated_messages_decode_or_are_refused():
    assert fuzz(800, mutated_messages, VALUES, *[MUTATIONS] * 5) >= 4000


# --- deep nestings ------------------------------------------------------------------------------------------

OPENERS = {  # each leaves exactly one slot open, for what follows
    "list": b"\x91", "list16": b"\xdc\x00\x01", "dict value": b"\x81\xc0", "map32": b"\xdf\x00\x00\x00\x01\xa1k",
    "tuple": b"\x92" + marker(1), "pair": b"\x93" + marker(1) + b"\x07",
    "dict with a tuple key": b"\x81\x92" + marker(1) + b"\x01",
}
LEAVES_BYTES = {"nil": b"\xc0", "int": b"\x05", "str": b"\xa2ab", "array": ARRAY_0, "tensor": TENSOR_0}
BAD = {"a marker with data": b"\xd4\x01\x00", "an unknown extension": b"\x91" + marker(77), "garbage": b"\xc1",
       "a marker second in a list": b"\x92\x01" + marker(1)}


def nests(openers: list[str], leaf: str, bad: str | None) -> int:
    body = ENVELOPE + b"".join(OPENERS[name] for name in openers) + (BAD[bad] if bad else LEAVES_BYTES[leaf])
    levels = len(openers) + (leaf in ("array", "tensor") and not bad)
    try:
        message = P.decode(body)
    except P.LimitError as error:
        assert levels > P.DEFAULT_LIMITS.max_depth and error.reason == "a value nested deeper than 64 levels"
        return 1
    except P.ProtocolError:
        assert bad is not None
        return 1
    assert bad is None and levels <= P.DEFAULT_LIMITS.max_depth and type(message) is dict
    return 1


def test_deep_nestings_are_refused_past_the_limit_and_only_there():
    assert fuzz(1000, nests, st.lists(st.sampled_from(sorted(OPENERS)), max_size=140),
                st.sampled_from(sorted(LEAVES_BYTES)), st.none() | st.sampled_from(sorted(BAD))) >= 1000


# --- the encoder and the decoder agree on the limits ---------------------------------------------------------

LIMITS = st.builds(P.DecodeLimits, max_depth=st.integers(0, 4), max_objects=st.integers(6, 60),
                   max_arrays=st.integers(0, 3))
NO_LIMIT = 10**9


def verdict(encode: Callable[[], Any], decode: Callable[[], Any]) -> tuple[str | None, str | None]:
    """(the encoder's reason to refuse, the decoder's), None where it accepts."""
    reasons: list[str | None] = []
    for side, error_type in ((encode, P.Unencodable), (decode, P.LimitError)):
        try:
            side()
            reasons.append(None)
        except error_type as error:
            reasons.append(error.reason)
    return reasons[0], reasons[1]


def agree(value: Any, limits: P.DecodeLimits) -> int:
    """Each limit alone: the encoder and the decoder refuse the same values, for the same reason. All limits
    together: both refuse or both accept, each naming a limit the value breaks."""
    message = {"v": P.VERSION, "id": 1, "ok": value}
    body = P.encode(message)[P.HEADER.size:]
    broken = set()
    for alone in (P.DecodeLimits(limits.max_depth, NO_LIMIT, NO_LIMIT),
                  P.DecodeLimits(NO_LIMIT, limits.max_objects, NO_LIMIT),
                  P.DecodeLimits(NO_LIMIT, NO_LIMIT, limits.max_arrays)):
        encoder, decoder = verdict(lambda limits=alone: P.encode(message, limits),
                                   lambda limits=alone: P.decode(body, limits))
        assert encoder == decoder, f"under {alone}: the encoder says {encoder}, the decoder {decoder}"
        broken.add(encoder)
    encoder, decoder = verdict(lambda: P.encode(message, limits), lambda: P.decode(body, limits))
    assert (encoder is None) == (decoder is None) == (broken == {None})
    assert encoder in broken and decoder in broken
    if decoder is None:
        assert same(P.decode(body, limits), message)
    return 4


def test_the_encoder_refuses_what_the_decoder_refuses_and_nothing_more():
    assert fuzz(400, agree, VALUES, LIMITS) >= 1600
