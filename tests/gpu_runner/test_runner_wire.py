"""The sandbox's wire format: what round-trips, and what a hostile sender cannot slip through."""

from __future__ import annotations

import io
import json
import math
import struct

import pytest
import torch

from gpu_runner import wire
from gpu_runner.calling import CLOCK, FunctionCall, Trace


@pytest.mark.parametrize("dtype", [getattr(torch, name) for name in wire.DTYPE_SIZES])
def test_tensors_of_every_allowed_dtype_round_trip_bit_for_bit(dtype: torch.dtype) -> None:
    source = torch.arange(-6, 6, dtype=torch.float64).reshape(3, 4) / 3
    t = source.to(dtype)
    back = wire.decode(wire.encode(t))
    assert back.dtype == dtype and back.shape == t.shape
    assert torch.equal(back.view(torch.uint8), t.contiguous().view(torch.uint8))


def test_odd_tensors_round_trip() -> None:
    cases = [
        torch.tensor(2.5),
        torch.empty(0, 3),
        torch.arange(12.0).reshape(3, 4).t(),  # not contiguous
        torch.tensor([math.nan, math.inf, -math.inf]),
    ]
    for t in cases:
        back = wire.decode(wire.encode(t))
        assert back.shape == t.shape
        assert torch.equal(torch.nan_to_num(back), torch.nan_to_num(t))


def test_calls_traces_and_plain_values_round_trip() -> None:
    value = {
        "call": FunctionCall((torch.ones(2), [1, 2, 3], (4, "x")), {"dim": -1, "p": 0.9}),
        "trace": Trace((3, CLOCK), {"clock": CLOCK}, [("put", (1, "a")), ("get", (1,))]),
        "floats": [0.5, math.inf, -math.inf],
        7: None,
        (1, 2): [True, False],
    }
    back = wire.decode(wire.encode(value))
    assert back["trace"] == value["trace"]
    assert back[7] is None and back[(1, 2)] == [True, False]
    assert back["floats"] == [0.5, math.inf, -math.inf]
    call = back["call"]
    assert isinstance(call, FunctionCall)
    assert torch.equal(call.args[0], torch.ones(2))
    assert call.args[1:] == ([1, 2, 3], (4, "x")) and call.kwargs == {"dim": -1, "p": 0.9}
    nan = wire.decode(wire.encode(math.nan))
    assert math.isnan(nan)


def test_a_dict_using_the_wire_tag_as_a_key_is_not_mistaken_for_a_record() -> None:
    value = {"__studybot_wire__": "tensor", "i": 0}
    assert wire.decode(wire.encode(value)) == value


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ({1, 2}, "builtins.set"),
        (object(), "builtins.object"),
        (b"bytes", "builtins.bytes"),
        (torch.ones(2).to_sparse(), "sparse"),
    ],
)
def test_values_that_cannot_be_judged_are_refused_with_their_type(
    value: object, needle: str
) -> None:
    with pytest.raises(wire.WireError, match=needle):
        wire.encode(value)


def test_a_tensor_subclass_is_refused() -> None:
    class Lazy(torch.Tensor):
        pass

    with pytest.raises(wire.WireError, match="subclass"):
        wire.encode(torch.ones(2).as_subclass(Lazy))


def _message(body: object, blobs: list[bytes]) -> bytes:
    text = json.dumps(body).encode()
    index = b"".join(struct.pack(">Q", len(b)) for b in blobs)
    return struct.pack(">4sII", wire.MAGIC, len(text), len(blobs)) + text + index + b"".join(blobs)


def _raw(text: bytes) -> bytes:
    return struct.pack(">4sII", wire.MAGIC, len(text), 0) + text


def _tensor(dtype: str, shape: list[int], i: int = 0) -> dict[str, object]:
    return {"__studybot_wire__": "tensor", "i": i, "dtype": dtype, "shape": shape}


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"SBW", "too short"),
        (b"XXXX" + bytes(8), "not a StudyBot"),
        (struct.pack(">4sII", wire.MAGIC, 1000, 0) + b"{}", "announces more"),
        (_message(_tensor("float32", [4]), [bytes(8)]), "does not match"),
        (_message(_tensor("object", [1]), [bytes(8)]), "not allowed"),
        (_message(_tensor("float32", [-1]), [bytes(4)]), "bad tensor size"),
        (_message(_tensor("float32", [1], i=3), [bytes(4)]), "points at no buffer"),
        (_message({"__studybot_wire__": "pickle"}, []), "unknown record"),
        (_message({"__studybot_wire__": "float", "v": "1e999"}, []), "bad special float"),
        (_message({"__studybot_wire__": "call", "args": [], "kwargs": {}}, []), "a tuple"),
        (_message([[[[]]]], []) + b"junk", "add up"),
        (_raw(b"[" * 100_000 + b"]" * 100_000), "malformed"),
        (_raw(b"[" * 200 + b"1" + b"]" * 200), "nested too deeply"),
    ],
)
def test_malformed_messages_are_refused(data: bytes, needle: str) -> None:
    with pytest.raises(wire.WireError, match=needle):
        wire.decode(data)


def test_frames_carry_one_message_each() -> None:
    stream = io.BytesIO()
    wire.write_frame(stream, wire.encode({"kind": "ready"}))
    wire.write_frame(stream, wire.encode([1, 2]))
    stream.seek(0)
    got = []
    while (length := wire.read_frame_length(stream)) is not None:
        data = wire.read_exact(stream, length)
        assert data is not None
        got.append(wire.decode(data))
    assert got == [{"kind": "ready"}, [1, 2]]


def test_a_digest_changes_with_any_byte_shape_dtype_or_container() -> None:
    import torch

    from gpu_runner.calling import FunctionCall

    x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    call = FunctionCall((x, [1, 2]), {"dim": -1})
    same = FunctionCall((x.clone(), [1, 2]), {"dim": -1})
    assert wire.digest(call) == wire.digest(same)
    nudged = x.clone()
    nudged[2, 3] = 11.000001
    variants = [
        FunctionCall((nudged, [1, 2]), {"dim": -1}),
        FunctionCall((x.reshape(4, 3), [1, 2]), {"dim": -1}),
        FunctionCall((x.double(), [1, 2]), {"dim": -1}),
        FunctionCall((x, (1, 2)), {"dim": -1}),
        FunctionCall((x, [1, 2]), {"dim": 0}),
    ]
    assert len({wire.digest(v) for v in variants} | {wire.digest(call)}) == len(variants) + 1
