"""Drill `kv_cache_bytes`: the memory a KV cache takes."""

from __future__ import annotations

from gpu_runner.calling import FunctionCall
from gpu_runner.drills.base import Case, Drill, function_template, python_rng

SIGNATURE = (
    "def kv_cache_bytes(\n"
    "    n_layers: int,\n"
    "    n_kv_heads: int,\n"
    "    head_dim: int,\n"
    "    seq_len: int,\n"
    "    bytes_per_element: int = 2,\n"
    "    batch: int = 1,\n"
    ") -> int"
)
DOCSTRING = """\
Return the bytes the KV cache takes for `batch` sequences of `seq_len` tokens.

Every layer stores one key and one value vector per KV head and token, each of
head_dim elements of bytes_per_element bytes. Return an int (exact, however
large), not a float."""


def kv_cache_bytes(
    n_layers: int,
    n_kv_heads: int,
    head_dim: int,
    seq_len: int,
    bytes_per_element: int = 2,
    batch: int = 1,
) -> int:
    """Return 2 (K and V) x layers x KV heads x head_dim x tokens x bytes x batch."""
    return 2 * n_layers * n_kv_heads * head_dim * seq_len * bytes_per_element * batch


MODELS = {
    "llama3_70b": (80, 8, 128),
    "llama3_8b": (32, 8, 128),
    "mistral_7b": (32, 8, 128),
    "llama2_7b": (32, 32, 128),
    "gpt2_small": (12, 12, 64),
}


class KvCacheBytesDrill(Drill):
    """KV cache size arithmetic."""

    id = "kv_cache_bytes"
    title = "KV cache size in bytes"
    entry = "kv_cache_bytes"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = function_template("kv_cache_bytes", SIGNATURE, DOCSTRING, imports=())
    reference_impl = staticmethod(kv_cache_bytes)
    reference_imports = ()
    needs_torch = False
    bank_questions = (496,)
    public_cases = (
        Case("llama3_70b_8k", {"model": "llama3_70b", "seq_len": 8192}),
        Case("gpt2_batch", {"model": "gpt2_small", "seq_len": 1024, "batch": 8}),
    )
    secret_cases = (
        Case("fp8_cache", {"model": "llama3_8b", "seq_len": 32768, "bytes": 1, "batch": 4}),
        Case("fp32_cache", {"model": "llama2_7b", "seq_len": 4096, "bytes": 4}),
        Case("random_config", {"random": True}),
        Case("huge_fleet", {"model": "llama3_70b", "seq_len": 131072, "batch": 512}),
        Case("positional_args", {"model": "mistral_7b", "seq_len": 777, "bytes": 2, "batch": 3}),
    )
    bench_cases = (Case("bench_config", {"model": "llama3_70b", "seq_len": 8192, "batch": 16}),)

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return a model shape and cache size; `random` draws every number from the seed."""
        p = case.params
        if p.get("random"):
            rng = python_rng(self.id, case, seed)
            layers, heads, dim = rng.randint(1, 120), rng.randint(1, 64), rng.choice((64, 80, 96))
            seq, nbytes, batch = rng.randint(1, 200_000), rng.choice((1, 2, 4)), rng.randint(1, 64)
            return FunctionCall(
                (layers, heads, dim, seq), {"bytes_per_element": nbytes, "batch": batch}
            )
        layers, heads, dim = MODELS[str(p["model"])]
        seq = int(p["seq_len"])
        if case.name == "positional_args":
            return FunctionCall((layers, heads, dim, seq, int(p["bytes"]), int(p["batch"])), {})
        kwargs = {}
        if "bytes" in p:
            kwargs["bytes_per_element"] = int(p["bytes"])
        if "batch" in p:
            kwargs["batch"] = int(p["batch"])
        return FunctionCall((layers, heads, dim, seq), kwargs)


DRILL = KvCacheBytesDrill()
