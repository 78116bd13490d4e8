"""The bytes that cross the sandbox boundary: plain data plus raw tensor buffers, never pickle.

Both sides use this module (the judge copies it into the sandbox next to `calling.py`), so it
depends on the standard library alone and imports torch only when a tensor is encoded or
decoded. The structure is JSON in which tuples, non-string-keyed dicts, `FunctionCall`, `Trace`, the
clock sentinel, non-finite floats and tensors become small tagged records; a tensor's record
points into a binary blob appended after the JSON. Decoding checks every length, shape and dtype
before touching the blob, because on the judge's side the bytes come from untrusted code.

Frames on a pipe are a 4-byte big-endian length followed by one encoded message.
"""

from __future__ import annotations

import json
import math
import struct
from typing import IO, Any

try:
    from gpu_runner import calling as _calling
except ImportError:  # inside the sandbox the file sits beside this one, outside any package
    import calling as _calling  # type: ignore[no-redef]

MAGIC = b"SBW1"
_TAG = "__studybot_wire__"
_HEADER = struct.Struct(">4sII")  # magic, JSON length, tensor count
_FRAME = struct.Struct(">I")
MAX_DEPTH = 64

# Only dtypes whose bytes can be reinterpreted without surprises; the item size checks lengths.
DTYPE_SIZES: dict[str, int] = {
    "float64": 8,
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "int64": 8,
    "int32": 4,
    "int16": 2,
    "int8": 1,
    "uint8": 1,
    "bool": 1,
    "complex64": 8,
    "complex128": 16,
}


class WireError(ValueError):
    """Raised for bytes that are not a well-formed message, or a value that cannot be sent."""


_SCALARS = (int, str, bool, type(None))


def _is_tensor(value: object) -> bool:
    module = type(value).__module__
    if not module.startswith("torch"):
        return False
    import torch

    return isinstance(value, torch.Tensor)


def _prepare(value: Any, blobs: list[bytes], depth: int = 0) -> Any:
    """Turn a value into JSON-ready data, tensors into blob records; refuse anything else."""
    if depth > MAX_DEPTH:
        raise WireError(f"value nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is float:
        return value if math.isfinite(value) else {_TAG: "float", "v": repr(value)}
    if kind is list:
        # Long lists of plain scalars (trace ops, boards, token ids) skip the per-item walk.
        if all(type(v) in _SCALARS for v in value):
            return value
        return [_prepare(v, blobs, depth + 1) for v in value]
    if kind is tuple:
        return {_TAG: "tuple", "items": [_prepare(v, blobs, depth + 1) for v in value]}
    if kind is dict:
        if _TAG not in value and all(type(k) is str for k in value):
            return {k: _prepare(v, blobs, depth + 1) for k, v in value.items()}
        return {
            _TAG: "dict",
            "items": [
                [_prepare(k, blobs, depth + 1), _prepare(v, blobs, depth + 1)]
                for k, v in value.items()
            ],
        }
    if isinstance(value, _calling.FunctionCall):
        return {
            _TAG: "call",
            "args": _prepare(tuple(value.args), blobs, depth + 1),
            "kwargs": _prepare(dict(value.kwargs), blobs, depth + 1),
        }
    if isinstance(value, _calling.Trace):
        # Ops are many and their arguments mostly scalars: names and argument lists travel in
        # two parallel lists, each argument tuple as a plain list.
        return {
            _TAG: "trace",
            "init_args": _prepare(tuple(value.init_args), blobs, depth + 1),
            "init_kwargs": _prepare(dict(value.init_kwargs), blobs, depth + 1),
            "names": [str(name) for name, _ in value.ops],
            "args": _prepare_op_args([args for _, args in value.ops], blobs, depth + 1),
        }
    if isinstance(value, _calling.ClockSentinel):
        return {_TAG: "clock"}
    if _is_tensor(value):
        return _tensor_record(value, blobs)
    raise WireError(
        f"a value of type {kind.__module__}.{kind.__qualname__} cannot be sent back; return "
        "tensors, numbers, strings, booleans, None, or lists, tuples and dicts of them"
    )


def _prepare_op_args(all_args: list[Any], blobs: list[bytes], depth: int) -> list[Any]:
    if all(type(v) in _SCALARS for args in all_args for v in args):
        return all_args  # json writes tuples of scalars as arrays: no copy needed
    return [_prepare(list(args), blobs, depth) for args in all_args]


def _tensor_record(t: Any, blobs: list[bytes]) -> dict[str, Any]:
    import torch

    if type(t) is not torch.Tensor and not isinstance(t, torch.nn.Parameter):
        raise WireError(f"tensor subclass {type(t).__qualname__} cannot be sent back")
    if t.layout != torch.strided:
        raise WireError(f"a {t.layout} tensor cannot be sent back; return a dense tensor")
    name = str(t.dtype).removeprefix("torch.")
    if name not in DTYPE_SIZES:
        raise WireError(f"tensors of dtype {name} cannot be sent back")
    flat = t.detach().to("cpu").contiguous().reshape(-1)
    raw = flat.view(torch.uint8) if flat.numel() else flat.new_empty(0, dtype=torch.uint8)
    blobs.append(raw.numpy().tobytes())
    return {_TAG: "tensor", "i": len(blobs) - 1, "dtype": name, "shape": list(t.shape)}


def digest(value: object) -> str:
    """Return a digest of a value's exact contents: types, shapes, dtypes and bytes.

    Both sides compute it the same way, so a big input can be shown unchanged by its digest
    instead of by sending it back whole.
    """
    import hashlib

    h = hashlib.blake2b(digest_size=20)

    def feed(v: Any, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            raise WireError(f"value nested deeper than {MAX_DEPTH} levels")
        if _is_tensor(v):
            import torch

            flat = v.detach().to("cpu").contiguous().reshape(-1)
            raw = flat.view(torch.uint8) if flat.numel() else flat.new_empty(0, dtype=torch.uint8)
            h.update(f"T{v.dtype}{list(v.shape)}".encode())
            h.update(raw.numpy().data)
        elif isinstance(v, list | tuple):
            h.update(f"{type(v).__name__}{len(v)}(".encode())
            for item in v:
                feed(item, depth + 1)
            h.update(b")")
        elif isinstance(v, dict):
            h.update(f"dict{len(v)}(".encode())
            for key, item in v.items():
                feed(key, depth + 1)
                feed(item, depth + 1)
            h.update(b")")
        elif isinstance(v, _calling.FunctionCall):
            h.update(b"call(")
            feed(tuple(v.args), depth + 1)
            feed(dict(v.kwargs), depth + 1)
            h.update(b")")
        else:
            h.update(f"{type(v).__name__}:{v!r};".encode())

    feed(value)
    return h.hexdigest()


def encode(obj: object) -> bytes:
    """Encode inputs, results or a control message as bytes."""
    blobs: list[bytes] = []
    try:
        body = _prepare(obj, blobs)
        text = json.dumps(body, allow_nan=False, separators=(",", ":")).encode()
    except RecursionError:
        raise WireError("value nested too deeply") from None
    except ValueError as exc:  # e.g. a float subclass json refuses
        raise WireError(str(exc)) from None
    index = b"".join(struct.pack(">Q", len(b)) for b in blobs)
    return _HEADER.pack(MAGIC, len(text), len(blobs)) + text + index + b"".join(blobs)


def decode(data: bytes, *, device: str | None = None) -> Any:
    """Decode what `encode` wrote, validating every record; tensors land on `device` if given."""
    view = memoryview(data)
    if len(view) < _HEADER.size:
        raise WireError("message too short")
    magic, n_text, n_blobs = _HEADER.unpack_from(view, 0)
    if magic != MAGIC:
        raise WireError("not a StudyBot wire message")
    offset = _HEADER.size
    if n_text > len(view) - offset or n_blobs > (len(view) - offset - n_text) // 8:
        raise WireError("message header announces more bytes than it holds")
    try:
        body = json.loads(bytes(view[offset : offset + n_text]))
    except (ValueError, RecursionError) as exc:
        raise WireError(f"malformed message body: {exc}") from None
    offset += n_text
    sizes = [struct.unpack_from(">Q", view, offset + 8 * i)[0] for i in range(n_blobs)]
    offset += 8 * n_blobs
    if sum(sizes) != len(view) - offset:
        raise WireError("tensor buffers do not add up to the message length")
    spans: list[memoryview] = []
    for size in sizes:
        spans.append(view[offset : offset + size])
        offset += size
    try:
        return _restore(body, spans, device, 0)
    except RecursionError:
        raise WireError("message nested too deeply") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, WireError):
            raise
        raise WireError(f"malformed message structure: {exc!r}") from None


def _restore(value: Any, spans: list[memoryview], device: str | None, depth: int) -> Any:
    if depth > MAX_DEPTH + 8:
        raise WireError("message nested too deeply")
    kind = type(value)
    if kind is list:
        if all(type(v) in _SCALARS or type(v) is float for v in value):
            return value
        return [_restore(v, spans, device, depth + 1) for v in value]
    if kind is not dict:
        return value
    tag = value.get(_TAG)
    if tag is None:
        return {k: _restore(v, spans, device, depth + 1) for k, v in value.items()}
    d = depth + 1
    if tag == "tensor":
        return _restore_tensor(value, spans, device)
    if tag == "float":
        text = value.get("v")
        if text not in ("nan", "inf", "-inf"):
            raise WireError(f"bad special float {text!r}")
        return float(text)
    if tag == "tuple":
        return tuple(_restore(v, spans, device, d) for v in _list(value["items"]))
    if tag == "dict":
        return {
            _hashable(_restore(k, spans, device, d)): _restore(v, spans, device, d)
            for k, v in (_pair(item) for item in _list(value["items"]))
        }
    if tag == "call":
        return _calling.FunctionCall(
            _tuple(_restore(value["args"], spans, device, d)),
            _dict(_restore(value["kwargs"], spans, device, d)),
        )
    if tag == "trace":
        names, arg_lists = _list(value["names"]), _list(value["args"])
        if len(names) != len(arg_lists) or not all(type(n) is str for n in names):
            raise WireError("trace ops are malformed")
        if all(type(a) is list for a in arg_lists) and all(
            type(v) in _SCALARS or type(v) is float for a in arg_lists for v in a
        ):
            ops = [(name, tuple(args)) for name, args in zip(names, arg_lists, strict=True)]
        else:
            ops = [
                (name, tuple(_list(_restore(args, spans, device, d))))
                for name, args in zip(names, arg_lists, strict=True)
            ]
        return _calling.Trace(
            _tuple(_restore(value["init_args"], spans, device, d)),
            _dict(_restore(value["init_kwargs"], spans, device, d)),
            ops,
        )
    if tag == "clock":
        return _calling.CLOCK
    raise WireError(f"unknown record {tag!r}")


def _list(value: Any) -> list[Any]:
    if type(value) is not list:
        raise WireError("expected a list in the message")
    return value


def _pair(value: Any) -> tuple[Any, Any]:
    if type(value) is not list or len(value) != 2:
        raise WireError("expected a pair in the message")
    return value[0], value[1]


def _tuple(value: Any) -> tuple[Any, ...]:
    if type(value) is not tuple:
        raise WireError("expected a tuple in the message")
    return value


def _dict(value: Any) -> dict[str, Any]:
    if type(value) is not dict:
        raise WireError("expected a dict in the message")
    return value


def _hashable(key: Any) -> Any:
    try:
        hash(key)
    except TypeError:
        raise WireError("a dict key in the message is not hashable") from None
    return key


def _restore_tensor(record: dict[str, Any], spans: list[memoryview], device: str | None) -> Any:
    index, dtype, shape = record.get("i"), record.get("dtype"), record.get("shape")
    if type(index) is not int or not 0 <= index < len(spans):
        raise WireError("tensor record points at no buffer")
    if dtype not in DTYPE_SIZES:
        raise WireError(f"tensor dtype {dtype!r} is not allowed")
    if type(shape) is not list or len(shape) > 16:
        raise WireError("tensor shape must be a list of at most 16 sizes")
    numel = 1
    for size in shape:
        if type(size) is not int or size < 0:
            raise WireError(f"bad tensor size {size!r}")
        numel *= size
    span = spans[index]
    if numel * DTYPE_SIZES[dtype] != len(span):
        raise WireError("tensor buffer length does not match its shape and dtype")
    import torch

    torch_dtype = getattr(torch, dtype)
    if numel == 0:
        t = torch.empty(shape, dtype=torch_dtype)
    else:
        t = torch.frombuffer(bytearray(span), dtype=torch.uint8).view(torch_dtype).reshape(shape)
    return t.to(device) if device not in (None, "cpu") else t


def write_frame(stream: IO[bytes], payload: bytes) -> None:
    """Write one length-prefixed frame and flush it."""
    stream.write(_FRAME.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def read_exact(stream: IO[bytes], n: int) -> bytes | None:
    """Read exactly `n` bytes, or return None at end of stream."""
    chunks: list[bytes] = []
    remaining = n
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame_length(stream: IO[bytes]) -> int | None:
    """Read a frame's length prefix, or return None at end of stream."""
    head = read_exact(stream, _FRAME.size)
    if head is None:
        return None
    return int(_FRAME.unpack(head)[0])
