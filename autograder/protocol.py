"""The runner message format, version 1: what crosses the sandbox boundary, and how.

A message is a 4-byte big-endian length followed by a msgpack map. The length is checked against a cap
*before* anything is read or parsed. Values are plain data only; msgpack extension types carry the few
non-msgpack kinds, and each is rebuilt on the receiving side as the exact base type:

======  ===============  ============================================================
 code    kind             payload (a msgpack array)
======  ===============  ============================================================
 1       tuple            the items
 2       numpy.ndarray    [dtype.str, shape, raw bytes] (numeric, bool, str dtypes only)
 3       numpy scalar     [dtype.str, raw bytes]
 4       torch.Tensor     [dtype name, shape, raw bytes, device, requires_grad]
 5       handle           [handle id]: an object that stays on the runner's side
======  ===============  ============================================================

Subclasses are never sent as such: ``strict_types`` routes them through :func:`_encode_ext`, which sends the
base type's data (a ``str`` subclass becomes a ``str``), so a custom ``__eq__`` or ``__torch_function__``
cannot survive the crossing. Nothing is ever pickled.

Requests (harness → runner): ``{"v": 1, "id": n, "op": ..., ...}``; replies: ``{"v": 1, "id": n, "ok": value}``
or ``{"v": 1, "id": n, "error": {"type": str, "message": str}}``. This module is copied into the sandbox, so it
imports nothing from the rest of the package.
"""

from __future__ import annotations

import socket
import struct
import sys
import time
from typing import Any

import msgpack

VERSION = 1
HEADER = struct.Struct(">I")
DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024
EXT_TUPLE, EXT_NDARRAY, EXT_NPSCALAR, EXT_TENSOR, EXT_HANDLE = 1, 2, 3, 4, 5
_NUMPY_KINDS = set("biufcSU")
_TORCH_DTYPES = ("float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
                 "complex64", "complex128")


class ProtocolError(Exception):
    """A message broke the format: too large, truncated, malformed, or of a kind that may not cross."""


class Unencodable(TypeError):
    """A value that is not plain data (the runner answers with a handle instead)."""


class Handle:
    """A reference to an object living on the runner's side; only its id crosses."""

    __slots__ = ("id",)

    def __init__(self, handle_id: int):
        self.id = int(handle_id)

    def __repr__(self) -> str:
        return f"Handle({self.id})"

    def __eq__(self, other: object) -> bool:
        return type(other) is Handle and other.id == self.id

    def __hash__(self) -> int:
        return hash(("handle", self.id))


# --- encoding ------------------------------------------------------------------------------------

def _torch():
    return sys.modules.get("torch")


def _numpy():
    return sys.modules.get("numpy")


def _encode_ext(value: Any) -> Any:
    if isinstance(value, Handle):
        return msgpack.ExtType(EXT_HANDLE, _pack([value.id]))
    if isinstance(value, tuple):
        return msgpack.ExtType(EXT_TUPLE, _pack(list(value)))
    np = _numpy()
    if np is not None and isinstance(value, np.ndarray):
        if value.dtype.kind not in _NUMPY_KINDS:
            raise Unencodable(f"a numpy array of dtype {value.dtype} cannot be sent")
        data = np.ascontiguousarray(value)
        return msgpack.ExtType(EXT_NDARRAY, _pack([data.dtype.str, list(data.shape), data.tobytes()]))
    if np is not None and isinstance(value, np.generic):
        if value.dtype.kind not in _NUMPY_KINDS:
            raise Unencodable(f"a numpy scalar of dtype {value.dtype} cannot be sent")
        return msgpack.ExtType(EXT_NPSCALAR, _pack([value.dtype.str, value.tobytes()]))
    torch = _torch()
    if torch is not None and isinstance(value, torch.Tensor):
        return msgpack.ExtType(EXT_TENSOR, _pack(_tensor_payload(torch, value)))
    # Subclasses of plain types: send the base type's data, never the subclass.
    for base, plain in ((int, int.__int__), (float, float.__float__), (str, str.__str__), (bytes, bytes),
                        (list, list), (dict, dict)):
        if isinstance(value, base):
            return plain(value)  # an exact base-type copy, packed natively
    raise Unencodable(f"a {type(value).__name__} is not plain data")


def _tensor_payload(torch, value) -> list[Any]:
    """The tensor's own data, read with ``__torch_function__`` overrides switched off."""
    with torch._C.DisableTorchFunctionSubclass():
        return _plain_tensor_payload(torch, value)


def _plain_tensor_payload(torch, value) -> list[Any]:
    if value.layout != torch.strided or value.is_quantized or value.device.type == "meta":
        raise Unencodable("only dense tensors can be sent")
    name = str(value.dtype).removeprefix("torch.")
    if name not in _TORCH_DTYPES:
        raise Unencodable(f"a tensor of dtype {name} cannot be sent")
    plain = value.detach().as_subclass(torch.Tensor)
    flat = plain.cpu().contiguous().reshape(-1)
    raw = flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""
    return [name, list(plain.shape), raw, str(value.device), bool(value.requires_grad)]


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, default=_encode_ext, use_bin_type=True, strict_types=True)


def encode(message: dict[str, Any]) -> bytes:
    """One framed message; raises :class:`Unencodable` for values that are not plain data."""
    body = _pack(message)
    return HEADER.pack(len(body)) + body


# --- decoding ------------------------------------------------------------------------------------

def _ext_hook(code: int, data: bytes) -> Any:
    if code == EXT_TUPLE:
        items = _unpack(data)
        if type(items) is not list:
            raise ProtocolError("malformed tuple")
        return tuple(items)
    if code == EXT_HANDLE:
        (handle_id,) = _unpack(data)
        if type(handle_id) is not int:
            raise ProtocolError("malformed handle")
        return Handle(handle_id)
    if code == EXT_NDARRAY:
        return _decode_ndarray(*_unpack(data))
    if code == EXT_NPSCALAR:
        dtype_str, raw = _unpack(data)
        return _decode_ndarray(dtype_str, [], raw)[()]
    if code == EXT_TENSOR:
        return _decode_tensor(*_unpack(data))
    raise ProtocolError(f"unknown extension type {code}")


def _check_shape(shape: Any) -> list[int]:
    if type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape) or len(shape) > 32:
        raise ProtocolError("malformed shape")
    return shape


def _decode_ndarray(dtype_str: Any, shape: Any, raw: Any):
    import numpy as np

    if type(dtype_str) is not str or type(raw) is not bytes:
        raise ProtocolError("malformed array")
    try:
        dtype = np.dtype(dtype_str)
    except TypeError:
        raise ProtocolError("unknown array dtype") from None
    if dtype.kind not in _NUMPY_KINDS or dtype.hasobject:
        raise ProtocolError(f"array dtype {dtype} may not cross")
    shape = _check_shape(shape)
    count = 1
    for n in shape:
        count *= n
    if count * dtype.itemsize != len(raw):
        raise ProtocolError("array size does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _decode_tensor(name: Any, shape: Any, raw: Any, device: Any, requires_grad: Any):
    import torch

    if name not in _TORCH_DTYPES or type(raw) is not bytes or type(device) is not str:
        raise ProtocolError("malformed tensor")
    dtype = getattr(torch, name)
    shape = _check_shape(shape)
    count = 1
    for n in shape:
        count *= n
    itemsize = torch.empty((), dtype=dtype).element_size()
    if count * itemsize != len(raw):
        raise ProtocolError("tensor size does not match its shape")
    tensor = torch.frombuffer(bytearray(raw), dtype=dtype).reshape(shape) if count else torch.empty(shape,
                                                                                                   dtype=dtype)
    if device.startswith("cuda") and torch.cuda.is_available():
        tensor = tensor.to(device)
    if requires_grad is True and tensor.is_floating_point():
        tensor.requires_grad_(True)
    return tensor


def _unpack(data: bytes) -> Any:
    try:
        return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False, use_list=True)
    except ProtocolError:
        raise
    except Exception as exc:  # msgpack raises several types on malformed input
        raise ProtocolError(f"malformed message ({type(exc).__name__})") from None


def decode(body: bytes) -> dict[str, Any]:
    message = _unpack(body)
    if type(message) is not dict or message.get("v") != VERSION:
        raise ProtocolError("not a version-1 message")
    return message


# --- framed I/O over a socket --------------------------------------------------------------------

def _recv_exact(sock: socket.socket, size: int, deadline: float | None = None) -> bytes:
    chunks, remaining = [], size
    while remaining:
        if deadline is not None:  # a deadline for the whole message: a reply trickling in cannot stretch it
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the message did not arrive in time")
            sock.settimeout(left)
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_message(sock: socket.socket, max_bytes: int = DEFAULT_MAX_MESSAGE,
                 deadline: float | None = None) -> dict[str, Any]:
    """Read one message, by ``deadline`` (time.monotonic()) when given; the size is checked before the body."""
    (size,) = HEADER.unpack(_recv_exact(sock, HEADER.size, deadline))
    if size > max_bytes:
        raise ProtocolError(f"a message of {size} bytes is over the {max_bytes}-byte limit")
    return decode(_recv_exact(sock, size, deadline))


def write_message(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall(encode({"v": VERSION, **message}))
