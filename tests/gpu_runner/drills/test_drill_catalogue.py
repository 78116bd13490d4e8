"""The catalogue: required ids and signatures, templates, seeded inputs, what stays private."""

from __future__ import annotations

import ast
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

import gpu_runner.calling as calling
from gpu_runner.calling import FunctionCall, Trace, to_plain
from gpu_runner.drills import DRILLS, UnknownDrillError, get_drill

# The ids and call signatures members are promised (name, parameters with defaults).
REQUIRED_FUNCTIONS: dict[str, tuple[str, list[tuple[str, object]]]] = {
    "softmax": ("softmax", [("x", None), ("dim", -1)]),
    "logsumexp": ("logsumexp", [("x", None), ("dim", -1)]),
    "attention": ("attention", [("q", None), ("k", None), ("v", None), ("causal", False)]),
    "tiled_attention": (
        "tiled_attention",
        [("q", None), ("k", None), ("v", None), ("block_size", None)],
    ),
    "top_k_filter": ("top_k_filter", [("logits", None), ("k", None)]),
    "top_p_filter": ("top_p_filter", [("logits", None), ("p", None)]),
    "rope": ("apply_rope", [("x", None), ("positions", None), ("base", 10000.0)]),
    "gelu": ("gelu", [("x", None)]),
    "label_smoothed_ce": (
        "label_smoothed_cross_entropy",
        [("logits", None), ("target", None), ("epsilon", None), ("ignore_index", -100)],
    ),
    "alibi_bias": ("alibi_bias", [("n_heads", None), ("seq_len", None)]),
    "kv_cache_bytes": (
        "kv_cache_bytes",
        [
            ("n_layers", None),
            ("n_kv_heads", None),
            ("head_dim", None),
            ("seq_len", None),
            ("bytes_per_element", 2),
            ("batch", 1),
        ],
    ),
    "adamw_step": (
        "adamw_step",
        [
            (name, None)
            for name in ("p", "grad", "m", "v", "t", "lr", "beta1", "beta2", "eps")
            + ("weight_decay",)
        ],
    ),
    "lora_linear": (
        "lora_linear",
        [(n, None) for n in ("x", "weight", "lora_a", "lora_b", "alpha", "r")],
    ),
    "dpo_loss": (
        "dpo_loss",
        [
            (n, None)
            for n in ("policy_chosen", "policy_rejected", "ref_chosen", "ref_rejected", "beta")
        ],
    ),
    "word_search": ("exist", [("board", None), ("word", None)]),
    "interleaving_string": ("is_interleave", [("s1", None), ("s2", None), ("s3", None)]),
}

REQUIRED_CLASSES: dict[str, tuple[str, list[str], dict[str, list[tuple[str, object]]]]] = {
    "lru_cache": (
        "LRUCache",
        ["capacity"],
        {"get": [("key", None)], "put": [("key", None), ("value", None)]},
    ),
    "token_bucket": (
        "TokenBucket",
        ["rate", "capacity", "clock"],
        {"allow": [("cost", 1)]},
    ),
    "hash_ring": (
        "HashRing",
        ["nodes", "vnodes"],
        {"route": [("key", None)], "add": [("node", None)], "remove": [("node", None)]},
    ),
    "block_manager": (
        "BlockManager",
        ["n_blocks"],
        {
            "allocate": [("seq_id", None), ("n", None)],
            "free": [("seq_id", None)],
            "fork": [("src", None), ("dst", None)],
            "free_count": [],
        },
    ),
}


def _params(fn: Any) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for param in inspect.signature(fn).parameters.values():
        if param.name == "self":
            continue
        default = None if param.default is inspect.Parameter.empty else param.default
        out.append((param.name, default))
    return out


def _defined_by(source: str, name: str) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(source, "<template>", "exec"), namespace)
    return namespace[name]


def test_catalogue_holds_every_required_drill() -> None:
    assert set(REQUIRED_FUNCTIONS) | set(REQUIRED_CLASSES) <= set(DRILLS)


@pytest.mark.parametrize("drill_id", list(REQUIRED_FUNCTIONS))
def test_function_drill_signature(drill_id: str) -> None:
    drill = DRILLS[drill_id]
    entry, params = REQUIRED_FUNCTIONS[drill_id]
    assert drill.kind == "function"
    assert drill.entry == entry
    assert _params(drill.reference_impl) == params
    assert _params(_defined_by(drill.template, entry)) == params
    assert f"def {entry}(" in drill.signature


@pytest.mark.parametrize("drill_id", list(REQUIRED_CLASSES))
def test_class_drill_signature(drill_id: str) -> None:
    drill = DRILLS[drill_id]
    entry, init, methods = REQUIRED_CLASSES[drill_id]
    assert drill.kind == "class"
    assert drill.entry == entry
    for cls in (drill.reference_impl, _defined_by(drill.template, entry)):
        assert [name for name, _ in _params(cls.__init__)] == init
        for method, params in methods.items():
            assert _params(getattr(cls, method)) == params


@pytest.mark.parametrize("drill_id", list(DRILLS))
def test_spec_texts_are_complete(drill_id: str) -> None:
    drill = DRILLS[drill_id]
    assert drill.id == drill_id
    assert drill.title and drill.docstring
    assert drill.signature in drill.description
    assert drill.public_cases and drill.secret_cases and drill.bench_cases
    names = [c.name for c in drill.public_cases + drill.secret_cases + drill.bench_cases]
    assert len(names) == len(set(names)), "case names must be unique within a drill"
    ast.parse(drill.template)
    json.dumps(drill.summary())
    assert drill.summary()["n_secret_cases"] == len(drill.secret_cases)


def test_unknown_drill_lists_the_known_ids() -> None:
    assert get_drill("softmax") is DRILLS["softmax"]
    with pytest.raises(UnknownDrillError) as err:
        get_drill("sofmax")
    assert isinstance(err.value, ValueError)
    assert "softmax" in str(err.value) and "block_manager" in str(err.value)


def _same(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor):
        return (
            isinstance(b, torch.Tensor)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and bool(torch.equal(a, b))
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return (
            type(a) is type(b)
            and len(a) == len(b)  # type: ignore[arg-type]
            and all(_same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[call-overload]
        )
    return a == b


def _tensors(value: object) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _tensors(v)]
    return []


@pytest.mark.parametrize("drill_id", list(DRILLS))
def test_inputs_are_determined_by_the_seed_and_fresh(drill_id: str) -> None:
    drill = DRILLS[drill_id]
    varies = False
    for case in drill.all_cases():
        first, again = drill.make_inputs(case, 7), drill.make_inputs(case, 7)
        assert isinstance(first, Trace if drill.kind == "class" else FunctionCall)
        plain_first, plain_again = to_plain(first), to_plain(again)
        assert _same(plain_first, plain_again), f"case {case.name} is not reproducible"
        for a, b in zip(_tensors(plain_first), _tensors(plain_again), strict=True):
            assert a.data_ptr() != b.data_ptr(), "each call must build fresh tensors"
        varies |= not _same(plain_first, to_plain(drill.make_inputs(case, 8)))
    # ALiBi's inputs are two integers per case: the answer is exact, nothing to randomise.
    assert varies or drill_id == "alibi_bias"


@pytest.mark.parametrize("drill_id", list(DRILLS))
def test_bench_inputs_are_built_and_judged_like_the_others(drill_id: str) -> None:
    drill = DRILLS[drill_id]
    case = drill.bench_cases[0]
    inputs = drill.make_inputs(case, 0)
    expected = drill.reference(inputs)
    assert drill.compare(case, expected, expected, inputs) is None


def test_reference_is_not_mutated_by_the_submission_path() -> None:
    drill = DRILLS["adamw_step"]
    case = drill.public_cases[1]
    inputs = drill.make_inputs(case, 0)
    before = [t.clone() for t in _tensors(inputs.args)]
    drill.reference(inputs)
    assert all(torch.equal(a, b) for a, b in zip(before, _tensors(inputs.args), strict=True))


def test_calling_module_is_standalone() -> None:
    source = Path(calling.__file__).read_text()
    tree = ast.parse(source)
    top_level: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            top_level += [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top_level.append(node.module.split(".")[0])
    assert set(top_level) <= set(sys.stdlib_module_names) | {"__future__"}
    assert "gpu_runner" not in source.replace("gpu_runner.calling", "")
    for drill in DRILLS.values():
        assert drill.reference_impl.__name__ not in {
            n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)
        }


def test_drill_package_imports_nothing_of_the_bot() -> None:
    package = Path(calling.__file__).parent
    files = [package / "calling.py", *sorted((package / "drills").glob("*.py"))]
    for path in files:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                root = name.split(".")[0]
                assert root not in {"bot", "content", "graders", "discord", "slack_bolt"}, (
                    f"{path.name} imports {name}"
                )
