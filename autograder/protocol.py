"""The runner message format, version 2: what crosses the sandbox boundary, and how.

A message is a 4-byte big-endian length followed by a msgpack map. The length is checked against a cap
*before* anything is read or parsed. Values are plain data only. The few kinds msgpack lacks travel as a
*marked array*: a msgpack array whose first item is a marker (an extension of the code below with an empty
payload) followed by plain fields; each is rebuilt on the receiving side as the exact base type:

======  ===============  ==============================================================================
 code    kind             marked array
======  ===============  ==============================================================================
 1       tuple            ``[marker, *items]``
 2       numpy.ndarray    ``[marker, dtype.str, raw bytes, *shape]`` (numeric, bool, str dtypes only)
 3       numpy scalar     ``[marker, dtype.str, raw bytes]``
 4       torch.Tensor     ``[marker, dtype name, raw bytes, device, requires_grad, *shape]``
 5       handle           ``[marker, handle id]``: an object that stays on the runner's side
======  ===============  ==============================================================================

A marker is allowed only as the first item of an array, and no extension carries data: nothing in a message is
ever decoded twice. (Version 1 packed tuples, arrays and tensors as extension payloads decoded again from the
ext hook, one C unpacker per level: a reply under 1 KB of tuples nested 400 deep overflowed the C stack of the
trusted worker, and each level copied its payload once more.)

Decoding is bounded by :class:`DecodeLimits`. Before the C unpacker sees a byte, :func:`scan` walks the message
once, iteratively, building nothing: every byte is an O(1) header or part of a run or payload skipped in O(1)
Python steps, so the work is linear in the size. It refuses malformed structure (:class:`ProtocolError`) and
values over the limits (:class:`LimitError`, whose ``reason`` completes "your function returned ..."), and looks
at the clock every thousand steps. Only then is the message decoded, in one C pass whose hooks do O(1) work per
marked array. Dict keys whose hashes can be chosen (tuples, floats, marked arrays) are checked for collisions
first, so building a dict cannot go quadratic. The encoder refuses what the decoder would refuse.

Subclasses are never sent as such: ``strict_types`` routes them through :func:`_encode_ext`, which sends the
base type's data (a ``str`` subclass becomes a ``str``), so a custom ``__eq__`` or ``__torch_function__``
cannot survive the crossing. Nothing is ever pickled.

Requests (harness → runner): ``{"v": 2, "id": n, "op": ..., ...}``; replies: ``{"v": 2, "id": n, "ok": value}``
or ``{"v": 2, "id": n, "error": {"type": str, "message": str}}``; either may add ``"rebound": [name, ...]``, the
top-level names the runner handed out as handles (``get``) that this request rebound or deleted, so the grader
drops the handles it kept for them (it reuses ``submission.f`` between calls: one request per call). This module
is copied into the sandbox, so it imports only the standard library and msgpack (numpy and torch when a value
needs them).
"""

from __future__ import annotations

import dataclasses
import re
import socket
import struct
import sys
import time
from collections import Counter
from collections.abc import Callable
from itertools import chain
from typing import Any

import msgpack

VERSION = 2
HEADER = struct.Struct(">I")
DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024
EXT_TUPLE, EXT_NDARRAY, EXT_NPSCALAR, EXT_TENSOR, EXT_HANDLE = 1, 2, 3, 4, 5
_NUMPY_KINDS = set("biufcSU")
# Each tensor dtype that may cross, and its numpy twin (same size and bits; bfloat16 travels as int16 bits).
_TORCH_AS_NUMPY = {"float64": "f8", "float32": "f4", "float16": "f2", "bfloat16": "i2", "int64": "i8",
                   "int32": "i4", "int16": "i2", "int8": "i1", "uint8": "u1", "bool": "?", "complex64": "c8",
                   "complex128": "c16"}
_MAX_DIMS = 32


@dataclasses.dataclass(frozen=True)
class DecodeLimits:
    """Bounds on one message, far above what the course sends: week 1's sampling probe returns a list of 20,000
    ints (or, from a student who keeps tensors, 20,000 one-element tensors); the deepest reply, week 2's
    ``train_char_lm``, is a pair of a dict of parameter tensors and a list of 150 losses (3 levels)."""

    max_depth: int = 64              # levels of lists, dicts, tuples, arrays and tensors inside the value
    max_objects: int = 1_000_000     # values, counting dict keys and each array's fields (dtype, data, dims)
    max_arrays: int = 100_000        # numpy arrays and torch tensors (each costs ~10 µs and ~200 B to rebuild)
    max_same_hash_keys: int = 16     # dict keys sharing one hash (n colliding keys cost n²/2 comparisons)


DEFAULT_LIMITS = DecodeLimits()
OVER_LIMIT = "OverLimit"  # the error type of a reply whose value is over a limit: {"type": ..., "reason": ...}


class ProtocolError(Exception):
    """A message broke the format: too large, truncated, malformed, or of a kind that may not cross."""


class LimitError(ProtocolError):
    """A well-formed message over a :class:`DecodeLimits` bound; ``reason`` completes "your function returned"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Unencodable(TypeError):
    """A value that may not be sent: not plain data (the runner answers with a handle instead), or over a limit
    (then ``over_limit`` is true and ``reason`` completes "your function returned", as for :class:`LimitError`)."""

    def __init__(self, reason: str, over_limit: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.over_limit = over_limit


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


def _too_deep(limits: DecodeLimits) -> str:
    return f"a value nested deeper than {limits.max_depth} levels"


def _too_many(limits: DecodeLimits) -> str:
    return f"more than {limits.max_objects:,} values in one reply"


def _too_many_arrays(limits: DecodeLimits) -> str:
    return f"more than {limits.max_arrays:,} arrays and tensors in one reply"


def limit_reasons(limits: DecodeLimits = DEFAULT_LIMITS) -> frozenset[str]:
    """Every ``reason`` a limit can give: the trusted side repeats a reason from the runner only if it is one."""
    return frozenset({_too_deep(limits), _too_many(limits), _too_many_arrays(limits)})


def _torch():
    return sys.modules.get("torch")


def _numpy():
    return sys.modules.get("numpy")


# --- encoding ------------------------------------------------------------------------------------

_MARK = {code: msgpack.ExtType(code, b"") for code in (EXT_TUPLE, EXT_NDARRAY, EXT_NPSCALAR, EXT_TENSOR, EXT_HANDLE)}
_SCALAR_TYPES = frozenset({int, float, str, bytes, bool, type(None)})


def _encode_ext(value: Any) -> Any:
    """msgpack's ``default``: one level of conversion, packed by the same packer (no packer inside a packer)."""
    if isinstance(value, tuple):
        return [_MARK[EXT_TUPLE], *tuple.__iter__(value)]
    if isinstance(value, Handle):
        return [_MARK[EXT_HANDLE], value.id]
    np = _numpy()
    if np is not None and isinstance(value, np.ndarray):
        if value.dtype.kind not in _NUMPY_KINDS:
            raise Unencodable(f"a numpy array of dtype {value.dtype} cannot be sent")
        return [_MARK[EXT_NDARRAY], value.dtype.str, np.ndarray.tobytes(value), *value.shape]
    if np is not None and isinstance(value, np.generic):
        if value.dtype.kind not in _NUMPY_KINDS:
            raise Unencodable(f"a numpy scalar of dtype {value.dtype} cannot be sent")
        data = np.asarray(value)  # a 0-d array: its dtype fits its bytes (np.str_("") has dtype <U0 but 4 bytes)
        return [_MARK[EXT_NPSCALAR], data.dtype.str, data.tobytes()]
    torch = _torch()
    if torch is not None and isinstance(value, torch.Tensor):
        with torch._C.DisableTorchFunctionSubclass():  # the tensor's own data, overrides switched off
            return [_MARK[EXT_TENSOR], *_tensor_fields(torch, value)]
    # Subclasses of plain types: send the base type's data, never the subclass.
    for base, plain in ((int, int.__int__), (float, float.__float__), (str, str.__str__),
                        (bytes, lambda b: bytes.__getitem__(b, slice(None))), (list, _list_items),
                        (dict, dict.copy)):
        if isinstance(value, base):
            return plain(value)  # an exact base-type copy, packed natively
    raise Unencodable(f"a {type(value).__name__} is not plain data")


def _list_items(value: list) -> list:
    return [*list.__iter__(value)]


def _tensor_fields(torch, value) -> list[Any]:
    if value.layout != torch.strided or value.is_quantized or value.device.type == "meta":
        raise Unencodable("only dense tensors can be sent")
    name = str(value.dtype).removeprefix("torch.")
    if name not in _TORCH_AS_NUMPY:
        raise Unencodable(f"a tensor of dtype {name} cannot be sent")
    plain = value.detach().as_subclass(torch.Tensor)
    flat = plain.cpu().contiguous().reshape(-1)
    raw = flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""
    return [name, raw, str(value.device), bool(value.requires_grad), *plain.shape]


def _children(value: Any) -> list[Any] | None:
    """What msgpack will pack inside a list, dict or tuple ``value`` (dict keys included); None for the rest."""
    if type(value) is list:
        return value
    if isinstance(value, dict):
        return [*chain.from_iterable(dict.items(value))]
    if isinstance(value, tuple):
        return [*tuple.__iter__(value)]
    if isinstance(value, list):
        return _list_items(value)
    return None


def _marked_fields(value: Any) -> tuple[int, int]:
    """(values, arrays) a non-container leaf travels as: a marked array counts itself and its fields."""
    np, torch = _numpy(), _torch()
    if np is not None and isinstance(value, np.ndarray):
        return 3 + value.ndim, 1
    if torch is not None and isinstance(value, torch.Tensor):
        return 5 + value.ndim, 1
    if np is not None and isinstance(value, np.generic):
        return 3, 0
    if isinstance(value, Handle):
        return 2, 0
    return 0, 0


def _check_size(message: Any, limits: DecodeLimits) -> None:
    """Refuse, before packing, what the decoder would refuse: a value that contains itself, nesting deeper than
    ``max_depth``, more than ``max_objects`` values or ``max_arrays`` arrays, counted as :func:`scan` counts.
    Iterative, and each distinct container is walked once (shared ones are remembered by id), so a value built
    as ``a = [a, a]`` sixty times over is measured in sixty steps, not 2**60."""
    top = _children(message)
    if top is None:
        return
    max_open = limits.max_depth + 1  # the message's own map is a level
    done: dict[int, tuple[int, int, int]] = {}  # id -> (height, values, arrays) of a finished container
    path = {id(message)}
    # a frame: [id, iterator over children, depth, height of its deepest child, values, arrays]
    stack: list[list[Any]] = [[id(message), iter(top), 1, 0, 1, 0]]
    while stack:
        frame = stack[-1]
        for child in frame[1]:
            if type(child) in _SCALAR_TYPES:
                frame[4] += 1
                continue
            kids = _children(child)
            if kids is None:
                values, arrays = _marked_fields(child)
                if values and frame[2] + 1 > max_open:  # a marked array is a level
                    raise Unencodable(_too_deep(limits), over_limit=True)
                frame[3] = max(frame[3], 1 if values else 0)
                frame[4] += values or 1
                frame[5] += arrays
                continue
            key = id(child)
            if key in done:
                height, values, arrays = done[key]
                if frame[2] + height > max_open:
                    raise Unencodable(_too_deep(limits), over_limit=True)
                frame[3] = max(frame[3], height)
                frame[4] += values
                frame[5] += arrays
                continue
            if key in path:
                raise Unencodable("a value that contains itself")
            if frame[2] + 1 > max_open:
                raise Unencodable(_too_deep(limits), over_limit=True)
            if len(kids) > limits.max_objects:
                raise Unencodable(_too_many(limits), over_limit=True)
            path.add(key)
            stack.append([key, iter(kids), frame[2] + 1, 0, 1, 0])
            break
        else:
            stack.pop()
            path.discard(frame[0])
            done[frame[0]] = (frame[3] + 1, frame[4], frame[5])
            if frame[4] > limits.max_objects:
                raise Unencodable(_too_many(limits), over_limit=True)
            if frame[5] > limits.max_arrays:
                raise Unencodable(_too_many_arrays(limits), over_limit=True)
            if stack:
                parent = stack[-1]
                parent[3] = max(parent[3], frame[3] + 1)
                parent[4] += frame[4]
                parent[5] += frame[5]


def encode(message: dict[str, Any], limits: DecodeLimits = DEFAULT_LIMITS) -> bytes:
    """One framed message; raises :class:`Unencodable`, and nothing else, for a value that may not be sent."""
    try:
        _check_size(message, limits)
        body = msgpack.packb(message, default=_encode_ext, use_bin_type=True, strict_types=True)
    except Unencodable:
        raise
    except OverflowError:
        raise Unencodable("an integer outside the 64-bit range") from None
    except Exception as exc:  # noqa: BLE001 - msgpack, numpy, torch and a subclass's methods raise many types
        raise Unencodable(f"a value that cannot be packed ({_describe(exc)})") from None
    return HEADER.pack(len(body)) + body


def _describe(exc: Exception) -> str:
    """``Type: message`` of an exception whose ``__str__`` may be a student's, and may itself raise."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001
        text = ""
    return f"{type(exc).__name__}: {text}"[:200]


# --- the structural scan -------------------------------------------------------------------------

# Each first byte's kind, and for scalars of a fixed size their width (header included).
_ONE_BYTE, _FIXED, _CONTAINER, _SIZED, _EXTENSION, _INVALID = range(6)
_KIND = bytearray([_INVALID]) * 256
_WIDTH = bytearray(256)
for _t in (*range(0x00, 0x80), 0x80, 0x90, 0xA0, 0xC0, 0xC2, 0xC3, *range(0xE0, 0x100)):
    _KIND[_t] = _ONE_BYTE
for _t, _w in ((0xCA, 5), (0xCB, 9), (0xCC, 2), (0xCD, 3), (0xCE, 5), (0xCF, 9), (0xD0, 2), (0xD1, 3),
               (0xD2, 5), (0xD3, 9), *((_s, 1 + (_s & 0x1F)) for _s in range(0xA1, 0xC0))):
    _KIND[_t], _WIDTH[_t] = _FIXED, _w
for _t in (*range(0x81, 0x90), *range(0x91, 0xA0), 0xDC, 0xDD, 0xDE, 0xDF):
    _KIND[_t] = _CONTAINER
for _t in (0xC4, 0xC5, 0xC6, 0xD9, 0xDA, 0xDB):
    _KIND[_t] = _SIZED
for _t in (0xC7, 0xC8, 0xC9, *range(0xD4, 0xD9)):
    _KIND[_t] = _EXTENSION
# A run of one-byte scalars (small ints, nil, bools, ""), with empty lists and dicts where one more level is
# allowed, is skipped by one regex call; a run of same-typed wider scalars (float64s, uint16s, 2-letter strs)
# by one strided slice of their type bytes.
_RUN_ONE = re.compile(rb"[\x00-\x7f\xa0\xc0\xc2\xc3\xe0-\xff]*")
_RUN_ONE_OR_EMPTY = re.compile(rb"[\x00-\x7f\x80\x90\xa0\xc0\xc2\xc3\xe0-\xff]*")
_BYTE = [bytes([_t]) for _t in range(256)]
# Dict keys of these kinds can be given colliding hashes: floats, arrays (tuples, marked arrays), maps.
_FORGEABLE_KEY = bytearray(256)
for _t in (0xCA, 0xCB, *range(0x80, 0xA0), 0xDC, 0xDD, 0xDE, 0xDF):
    _FORGEABLE_KEY[_t] = 1
del _t, _w
_U16, _U32 = struct.Struct(">H"), struct.Struct(">I")
_MAX_RUN = 1 << 16  # scalars skipped in one step at most: the type bytes copied for it stay under 64 KiB
_DEADLINE_EVERY = 256  # scan steps between two looks at the clock (a small int: counting it allocates nothing)


def _malformed(why: str) -> ProtocolError:
    return ProtocolError(f"malformed message ({why})")


def _length(body: Any, pos: int, size: int, end: int) -> int:
    """The big-endian length of ``size`` bytes after the type byte at ``pos``."""
    if pos + 1 + size > end:
        raise _malformed("truncated")
    if size == 1:
        return body[pos + 1]
    return (_U16 if size == 2 else _U32).unpack_from(body, pos + 1)[0]


def scan(body: bytes | bytearray, limits: DecodeLimits = DEFAULT_LIMITS, deadline: float | None = None) -> bool:
    """Check a message's structure and bounds without building anything. Returns True when a big dict in it has
    keys of a kind whose hashes can be chosen (then :func:`decode` checks them for collisions).

    Raises :class:`ProtocolError` for malformed bytes, :class:`LimitError` over a limit, ``TimeoutError`` past
    ``deadline`` (``time.monotonic()``)."""
    end = len(body)
    max_open, max_objects = limits.max_depth + 1, limits.max_objects  # the message's own map is a level
    big_map = 2 * limits.max_same_hash_keys  # items of a dict with enough keys to collide
    stack: list[tuple[int, int, bool, bool]] = []  # the enclosing containers' (remaining, size, is_map, is_big)
    remaining, size, in_map, big = 1, 1, False, False  # the current container; first a virtual one for the message
    pos = objects = arrays = 0
    budget = _DEADLINE_EVERY
    forgeable = False
    try:
        while True:
            if not remaining:
                if not stack:
                    break
                remaining, size, in_map, big = stack.pop()
                continue
            budget -= 1
            if not budget:
                budget = _DEADLINE_EVERY
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError("decoding the message did not end in time")
            t = body[pos]  # IndexError past the end: truncated
            kind = _KIND[t]
            if kind == _ONE_BYTE:  # a run of one-byte scalars (and empty lists and dicts while a level is left)
                if len(stack) >= max_open and t in (0x80, 0x90):
                    raise LimitError(_too_deep(limits))
                if remaining > 1 and pos + 1 < end and _KIND[body[pos + 1]] == _ONE_BYTE:
                    count = (_RUN_ONE_OR_EMPTY if len(stack) < max_open else _RUN_ONE).match(
                        body, pos, pos + min(remaining, _MAX_RUN)).end() - pos
                else:
                    count = 1
                pos += count
                remaining -= count
                objects += count
                if objects > max_objects:
                    raise LimitError(_too_many(limits))
                continue
            if kind == _FIXED:  # a run of same-typed scalars: one type byte `t` every `width` bytes
                width = _WIDTH[t]
                if remaining > 1 and pos + width < end and body[pos + width] == t:
                    types = body[pos:min(pos + width * min(remaining, _MAX_RUN), end - width + 1):width]
                    count = len(types) - len(types.lstrip(_BYTE[t]))
                else:
                    count = 1
                if pos + width * count > end:
                    raise _malformed("truncated")
                if big and _FORGEABLE_KEY[t] and (count > 1 or (size - remaining) % 2 == 0):
                    forgeable = True
                pos += width * count
                remaining -= count
                objects += count
                if objects > max_objects:
                    raise LimitError(_too_many(limits))
                continue
            if big and _FORGEABLE_KEY[t] and (size - remaining) % 2 == 0:
                forgeable = True
            first = remaining == size and not in_map and bool(stack)  # the first item of an array
            remaining -= 1
            objects += 1
            if objects > max_objects and kind != _EXTENSION:  # (a marker is not a value)
                raise LimitError(_too_many(limits))
            if kind == _CONTAINER:
                if t <= 0x9F:
                    count, pos = t & 0x0F, pos + 1
                else:
                    length_size = 2 if t in (0xDC, 0xDE) else 4
                    count, pos = _length(body, pos, length_size, end), pos + 1 + length_size
                is_map = t <= 0x8F or t >= 0xDE
                items = 2 * count if is_map else count
                if len(stack) >= max_open:
                    raise LimitError(_too_deep(limits))
                if items > end - pos:  # every item takes at least one byte
                    raise _malformed(f"a container declares {count} items but {end - pos} bytes follow")
                if objects + items - (not is_map) > max_objects:  # (an array's first item may be a marker)
                    raise LimitError(_too_many(limits))
                stack.append((remaining, size, in_map, big))
                remaining, size, in_map, big = items, items, is_map, is_map and items > big_map
            elif kind == _SIZED:  # bytes and long strs: skipped in O(1)
                length_size = 1 << ((t - 0xC4) if t <= 0xC6 else (t - 0xD9))
                pos += 1 + length_size + _length(body, pos, length_size, end)
                if pos > end:
                    raise _malformed("truncated")
            elif kind == _EXTENSION:  # only a marker, with no data, first in an array
                if t >= 0xD4:  # fixext: 1 to 16 bytes of data
                    length, code_at = 1 << (t - 0xD4), pos + 1
                else:
                    length_size = 1 << (t - 0xC7)
                    length, code_at = _length(body, pos, length_size, end), pos + 1 + length_size
                code = body[code_at] - 256 if body[code_at] > 127 else body[code_at]
                if code not in _MARKERS:
                    raise ProtocolError(f"unknown extension type {code}")
                if length or not first:
                    raise _malformed(f"extension type {code} carrying data or out of place")
                objects -= 1  # the marker is not a value
                if code in (EXT_NDARRAY, EXT_TENSOR):
                    arrays += 1
                    if arrays > limits.max_arrays:
                        raise LimitError(_too_many_arrays(limits))
                pos = code_at + 1
            else:
                raise _malformed(f"byte 0x{t:02x} at offset {pos} is not msgpack")
    except (IndexError, struct.error):  # a read past the end
        raise _malformed("truncated") from None
    if pos != end:
        raise _malformed(f"{end - pos} bytes after the message")
    return forgeable


# --- decoding ------------------------------------------------------------------------------------

class _Marker:
    """What a marker decodes to, for the instant before :func:`_list_hook` rebuilds its array."""

    __slots__ = ("build",)

    def __init__(self, build: Callable[[list[Any]], Any]):
        self.build = build


def _build_tuple(items: list[Any]) -> tuple[Any, ...]:
    del items[0]
    return tuple(items)


def _build_handle(items: list[Any]) -> Handle:
    if len(items) != 2 or type(items[1]) is not int:
        raise ProtocolError("malformed handle")
    return Handle(items[1])


def _is_shape(dims: list[Any]) -> bool:
    return len(dims) <= _MAX_DIMS and all(type(n) is int and n >= 0 for n in dims)


def _build_ndarray(items: list[Any]):
    if len(items) < 3 or type(items[1]) is not str or type(items[2]) is not bytes or not _is_shape(items[3:]):
        raise ProtocolError("malformed array")
    return _decode_ndarray(items[1], items[3:], items[2])


def _build_npscalar(items: list[Any]):
    if len(items) != 3 or type(items[1]) is not str or type(items[2]) is not bytes:
        raise ProtocolError("malformed array")
    return _decode_ndarray(items[1], [], items[2])[()]


def _build_tensor(items: list[Any]):
    if (len(items) < 5 or items[1] not in _TORCH_AS_NUMPY or type(items[2]) is not bytes
            or type(items[3]) is not str or type(items[4]) is not bool or not _is_shape(items[5:])):
        raise ProtocolError("malformed tensor")
    return _decode_tensor(items[1], items[5:], items[2], items[3], items[4])


_MARKERS = {EXT_TUPLE: _Marker(_build_tuple), EXT_NDARRAY: _Marker(_build_ndarray),
            EXT_NPSCALAR: _Marker(_build_npscalar), EXT_TENSOR: _Marker(_build_tensor),
            EXT_HANDLE: _Marker(_build_handle)}


def _list_hook(items: list[Any]) -> Any:
    if items and type(items[0]) is _Marker:
        return items[0].build(items)
    return items


def _ext_hook(code: int, data: bytes) -> _Marker:
    marker = _MARKERS.get(code)
    if marker is None or data:  # the scan lets neither through; kept so decoding never depends on it alone
        raise ProtocolError(f"unknown extension type {code}")
    return marker


def _count(shape: list[int]) -> int:
    count = 1
    for n in shape:
        count *= n
    return count


def _array(np, dtype: Any, shape: list[int], raw: bytes, what: str):
    """A fresh, writable numpy array holding a copy of ``raw``, once its size and bool bytes are checked."""
    if _count(shape) * dtype.itemsize != len(raw):
        raise ProtocolError(f"{what} size does not match its shape")
    if dtype.kind == "b" and raw.translate(None, b"\x00\x01"):
        raise ProtocolError(f"a bool {what} holds bytes other than 0 and 1")
    try:
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    except (ValueError, TypeError):
        raise ProtocolError(f"malformed {what}") from None


def _decode_ndarray(dtype_str: str, shape: list[int], raw: bytes):
    import numpy as np

    try:
        dtype = np.dtype(dtype_str) if len(dtype_str) <= 16 else None
    except (TypeError, ValueError):
        dtype = None
    if dtype is None:
        raise ProtocolError("unknown array dtype")
    if dtype.kind not in _NUMPY_KINDS or dtype.hasobject:
        raise ProtocolError(f"array dtype {dtype} may not cross")
    return _array(np, dtype, shape, raw, "array")


def _decode_tensor(name: str, shape: list[int], raw: bytes, device: str, requires_grad: bool):
    import numpy as np
    import torch

    tensor = torch.from_numpy(_array(np, np.dtype(_TORCH_AS_NUMPY[name]), shape, raw, "tensor"))
    if name == "bfloat16":
        tensor = tensor.view(torch.bfloat16)
    if device.startswith("cuda") and torch.cuda.is_available():
        try:
            tensor = tensor.to(device)
        except (RuntimeError, ValueError):
            raise ProtocolError(f"a tensor on device {device[:20]!r}") from None
    if requires_grad and tensor.is_floating_point():
        tensor.requires_grad_(True)
    return tensor


def _dict_hook(limits: DecodeLimits) -> Callable[[list[tuple[Any, Any]]], dict[Any, Any]]:
    """``object_pairs_hook`` for messages with forgeable keys: refuse a dict whose keys collide, before it is
    built (n keys of one hash make building it take n²/2 comparisons)."""
    def build(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
        try:
            if len(pairs) > limits.max_same_hash_keys:
                worst = max(Counter(hash(key) for key, _ in pairs).values())
                if worst > limits.max_same_hash_keys:
                    raise LimitError(f"a dict with more than {limits.max_same_hash_keys} keys of the same hash")
            return dict(pairs)
        except TypeError:
            raise _malformed("a dict key that cannot be a key") from None
    return build


def decode(body: bytes | bytearray, limits: DecodeLimits = DEFAULT_LIMITS,
           deadline: float | None = None) -> dict[str, Any]:
    """A message's body as exact base types. Raises :class:`ProtocolError` (malformed), :class:`LimitError`
    (over ``limits``) or ``TimeoutError`` (scanning or decoding ends after ``deadline``, ``time.monotonic()``)."""
    if type(body) not in (bytes, bytearray):
        body = bytes(body)  # a memoryview or other buffer: the scan slices and strips, as bytes do
    forgeable = scan(body, limits, deadline)
    try:
        message = msgpack.unpackb(body, raw=False, strict_map_key=False, use_list=True, list_hook=_list_hook,
                                  ext_hook=_ext_hook, object_pairs_hook=_dict_hook(limits) if forgeable else None)
    except ProtocolError:
        raise
    except Exception as exc:  # noqa: BLE001 - msgpack raises several types on malformed input (bad UTF-8, keys)
        raise _malformed(type(exc).__name__) from None
    if deadline is not None and time.monotonic() > deadline:
        raise TimeoutError("decoding the message did not end in time")
    if type(message) is not dict or message.get("v") != VERSION:
        raise ProtocolError(f"not a version-{VERSION} message")
    return message


# --- framed I/O over a socket --------------------------------------------------------------------

def _recv_exact(sock: socket.socket, size: int, deadline: float | None = None) -> bytearray:
    """``size`` bytes, received into one buffer (no chunks joined: the body is held once)."""
    buffer = bytearray(size)
    with memoryview(buffer) as view:
        got = 0
        while got < size:
            if deadline is not None:  # a deadline for the whole message: a reply trickling in cannot stretch it
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("the message did not arrive in time")
                sock.settimeout(left)
            received = sock.recv_into(view[got:], min(size - got, 1 << 20))
            if not received:
                raise EOFError("the other side closed the channel")
            got += received
    return buffer


def read_message(sock: socket.socket, max_bytes: int = DEFAULT_MAX_MESSAGE, deadline: float | None = None,
                 limits: DecodeLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Read and decode one message, by ``deadline`` (time.monotonic()) when given: TimeoutError if reading or
    decoding ends after it. The size is checked before the body is read."""
    (size,) = HEADER.unpack(_recv_exact(sock, HEADER.size, deadline))
    if size > max_bytes:
        raise ProtocolError(f"a message of {size} bytes is over the {max_bytes}-byte limit")
    return decode(_recv_exact(sock, size, deadline), limits, deadline)


def write_message(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall(encode({"v": VERSION, **message}))
