"""Drill `transformer_layer_numpy`: the forward pass of a pre-LN decoder layer in NumPy."""

from __future__ import annotations

import math

import numpy as np
import torch

from gpu_runner.calling import FunctionCall
from gpu_runner.drills.base import Case, Drill, Tolerance, torch_generator
from gpu_runner.library_calls import ATTENTION_CALLS, family

SIGNATURE = (
    "def transformer_layer(\n"
    "    x: torch.Tensor, params: dict[str, torch.Tensor], n_heads: int\n"
    ") -> torch.Tensor"
)
DOCSTRING = """\
Return the output of one pre-LN decoder layer for x of shape (seq, d_model).

Work in NumPy: the tensors arrive as float64 torch tensors, so take
`a = t.numpy()`, compute with NumPy (no autograd), and return
`torch.from_numpy(out)` (float64, shape (seq, d_model)).

    h = x + attention(layer_norm(x, ln1_g, ln1_b))
    out = h + ffn(layer_norm(h, ln2_g, ln2_b))

layer_norm normalises each row over d_model (eps 1e-5) and applies gain g and
bias b. attention is causal multi-head self-attention: q = a @ w_q, k = a @ w_k,
v = a @ w_v (weights are (d_model, d_model), used as a @ w); head h owns
channels h*head_dim .. (h+1)*head_dim - 1; scores scaled by 1/sqrt(head_dim);
position i attends to 0..i; the heads' outputs are concatenated and projected
by w_o. ffn(a) = gelu(a @ w1 + b1) @ w2 + b2, with w1 (d_model, d_ff) and
w2 (d_ff, d_model). params holds ln1_g, ln1_b, w_q, w_k, w_v, w_o, ln2_g, ln2_b,
w1, b1, w2, b2.

Either GELU (exact erf or the tanh approximation) and either layer-norm form
((x - mean) / sqrt(var + eps) or / (std + eps)) pass: the tolerance allows for
them."""

TEMPLATE = '''\
"""Drill transformer_layer_numpy: write `transformer_layer` below in NumPy."""

import numpy as np
import torch


def transformer_layer(
    x: torch.Tensor, params: dict[str, torch.Tensor], n_heads: int
) -> torch.Tensor:
    """Pre-LN decoder layer: h = x + attn(ln1(x)); out = h + ffn(ln2(h)). Causal, multi-head."""
    p = {name: t.numpy() for name, t in params.items()}
    a = x.numpy()
    raise NotImplementedError("transformer_layer is not implemented yet")
'''


def transformer_layer(
    x: torch.Tensor, params: dict[str, torch.Tensor], n_heads: int
) -> torch.Tensor:
    """NumPy forward pass: pre-LN, causal multi-head attention, GELU (erf) feed-forward."""
    from math import erf, sqrt

    p = {name: t.numpy() for name, t in params.items()}
    a = x.numpy()

    def layer_norm(z: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
        mean = z.mean(axis=-1, keepdims=True)
        var = z.var(axis=-1, keepdims=True)
        return (z - mean) / np.sqrt(var + 1e-5) * g + b

    seq, d_model = a.shape
    head_dim = d_model // n_heads
    n = layer_norm(a, p["ln1_g"], p["ln1_b"])
    q, k, v = (
        (n @ p[w]).reshape(seq, n_heads, head_dim).transpose(1, 0, 2) for w in ("w_q", "w_k", "w_v")
    )
    scores = q @ k.transpose(0, 2, 1) / sqrt(head_dim)
    scores = np.where(np.triu(np.ones((seq, seq), dtype=bool), 1), -np.inf, scores)
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = scores / scores.sum(axis=-1, keepdims=True)
    attn = (weights @ v).transpose(1, 0, 2).reshape(seq, d_model) @ p["w_o"]
    h = a + attn
    m = layer_norm(h, p["ln2_g"], p["ln2_b"]) @ p["w1"] + p["b1"]
    gelu = 0.5 * m * (1 + np.vectorize(erf)(m / sqrt(2)))
    return torch.from_numpy(h + gelu @ p["w2"] + p["b2"])


# Both GELU forms and both layer-norm forms must pass: the tanh GELU differs from the exact
# one by up to ~3e-4 per activation (the worst case seen uses a quarter of this tolerance);
# wrong architectures (post-LN, no mask, no residual, wrong softmax axis) are off by 0.1+.
TOLERANCE = Tolerance(2e-3, 2e-3)

NUMPY_LIBRARY_CALLS = ATTENTION_CALLS + family(
    "torch.nn.functional.layer_norm",
    "torch.layer_norm",
    "torch.nn.LayerNorm",
    "torch.nn.TransformerEncoderLayer",
    "torch.nn.TransformerDecoderLayer",
)


class TransformerLayerDrill(Drill):
    """A pre-LN decoder layer written in NumPy."""

    id = "transformer_layer_numpy"
    title = "Transformer layer forward pass in NumPy"
    entry = "transformer_layer"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = TEMPLATE
    reference_impl = staticmethod(transformer_layer)
    reference_imports = ("import numpy as np", "import torch")
    library_calls = NUMPY_LIBRARY_CALLS
    upcast_reference = False
    default_tolerance = TOLERANCE
    tolerances = {"float64": TOLERANCE}
    bank_questions = (475,)
    public_cases = (
        Case("small", {"seq": 4, "d_model": 8, "heads": 2, "d_ff": 16}),
        Case("one_head", {"seq": 6, "d_model": 12, "heads": 1, "d_ff": 24}),
    )
    secret_cases = (
        Case("odd_seq", {"seq": 13, "d_model": 24, "heads": 4, "d_ff": 48}),
        Case("one_token", {"seq": 1, "d_model": 16, "heads": 2, "d_ff": 32}),
        Case("many_heads", {"seq": 9, "d_model": 32, "heads": 8, "d_ff": 64}),
        Case("shifted_input", {"seq": 7, "d_model": 16, "heads": 4, "d_ff": 40, "offset": 5.0}),
    )
    bench_cases = (Case("bench_256x256", {"seq": 256, "d_model": 256, "heads": 8, "d_ff": 1024}),)

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded float64 x and parameters scaled like a trained layer's (on the CPU:
        NumPy needs host memory)."""
        p = case.params
        gen = torch_generator(self.id, case, seed)
        seq, d, d_ff = int(p["seq"]), int(p["d_model"]), int(p["d_ff"])

        def rnd(*shape: int, scale: float = 1.0, mean: float = 0.0) -> torch.Tensor:
            return torch.randn(*shape, generator=gen, dtype=torch.float64) * scale + mean

        x = rnd(seq, d, mean=float(p.get("offset", 0.0)))
        params = {
            "ln1_g": rnd(d, scale=0.2, mean=1.0),
            "ln1_b": rnd(d, scale=0.2),
            "w_q": rnd(d, d, scale=1 / math.sqrt(d)),
            "w_k": rnd(d, d, scale=1 / math.sqrt(d)),
            "w_v": rnd(d, d, scale=1 / math.sqrt(d)),
            "w_o": rnd(d, d, scale=1 / math.sqrt(d)),
            "ln2_g": rnd(d, scale=0.2, mean=1.0),
            "ln2_b": rnd(d, scale=0.2),
            "w1": rnd(d, d_ff, scale=1 / math.sqrt(d)),
            "b1": rnd(d_ff, scale=0.2),
            "w2": rnd(d_ff, d, scale=1 / math.sqrt(d_ff)),
            "b2": rnd(d, scale=0.2),
        }
        return FunctionCall((x, params, int(p["heads"])), {})


DRILL = TransformerLayerDrill()
