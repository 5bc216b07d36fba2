"""The runner message format: exact types after the crossing, caps before parsing, malformed input refused."""

from __future__ import annotations

import socket
import struct

import msgpack
import numpy as np
import pytest
import torch

from autograder import protocol as P


def roundtrip(value):
    return P.decode(P.encode({"v": 1, "x": value})[4:])["x"]


def test_plain_values_keep_their_exact_types():
    value = {"a": (1, 2.5, "s", b"b", None, True), "l": [1, [2, (3,)]], 7: "int key"}
    assert roundtrip(value) == value
    assert type(roundtrip((1, 2))) is tuple


def test_arrays_and_tensors_are_rebuilt_exactly():
    array = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]   # not contiguous
    out = roundtrip(array)
    assert type(out) is np.ndarray and out.dtype == np.float32 and np.array_equal(out, array)
    assert type(roundtrip(np.int64(3))) is np.int64
    for dtype in (torch.float64, torch.bfloat16, torch.bool, torch.int8):
        tensor = (torch.arange(6) % 2).to(dtype).reshape(2, 3)
        back = roundtrip(tensor)
        assert type(back) is torch.Tensor and back.dtype == dtype and torch.equal(back, tensor)
    grad = roundtrip(torch.ones(2, requires_grad=True))
    assert grad.requires_grad and grad.grad_fn is None
    assert roundtrip(torch.empty(0, 3)).shape == (0, 3)


def test_subclasses_cross_as_their_base_type():
    class Liar(str):
        def __eq__(self, other):
            return True

        __hash__ = str.__hash__

    class Sneaky(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            return True

    assert type(roundtrip(Liar("x"))) is str and roundtrip(Liar("x")) != "y"
    back = roundtrip(torch.zeros(3).as_subclass(Sneaky))
    assert type(back) is torch.Tensor and not torch.allclose(back, torch.ones(3))


def test_objects_that_are_not_plain_data_cannot_be_encoded():
    with pytest.raises(P.Unencodable):
        P.encode({"x": object()})
    with pytest.raises(P.Unencodable):
        P.encode({"x": np.array([object()])})


@pytest.mark.parametrize("body", [
    b"\xc1",                                                          # never-used msgpack byte
    msgpack.packb({"v": 2}),                                          # wrong version
    msgpack.packb({"v": 1, "x": msgpack.ExtType(99, b"")}),          # unknown extension
    msgpack.packb({"v": 1, "x": msgpack.ExtType(P.EXT_NDARRAY, msgpack.packb(["|O", [1], b"12345678"]))}),
    msgpack.packb({"v": 1, "x": msgpack.ExtType(P.EXT_NDARRAY, msgpack.packb(["<f8", [4], b"short"]))}),
    msgpack.packb({"v": 1, "x": msgpack.ExtType(P.EXT_TENSOR, msgpack.packb(["float64", [-1], b"", "cpu", 0]))}),
])
def test_malformed_messages_are_refused(body):
    with pytest.raises(P.ProtocolError):
        P.decode(body)


def test_the_size_cap_is_checked_before_the_body_is_read():
    ours, theirs = socket.socketpair()
    theirs.sendall(struct.pack(">I", 2**31) + b"x" * 10)
    ours.settimeout(1)
    with pytest.raises(P.ProtocolError, match="over the"):
        P.read_message(ours, max_bytes=1024)
