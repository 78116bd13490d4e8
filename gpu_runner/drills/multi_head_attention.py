"""Drill `multi_head_attention`: a multi-head self-attention block from its weights."""

from __future__ import annotations

import math

import torch

from gpu_runner.calling import FunctionCall
from gpu_runner.drills.attention import ATTENTION_TOLERANCES
from gpu_runner.drills.base import Case, Drill, function_template, torch_generator
from gpu_runner.drills.generators import finish
from gpu_runner.library_calls import ATTENTION_CALLS

SIGNATURE = (
    "def multi_head_attention(\n"
    "    x: torch.Tensor,\n"
    "    w_q: torch.Tensor,\n"
    "    w_k: torch.Tensor,\n"
    "    w_v: torch.Tensor,\n"
    "    w_o: torch.Tensor,\n"
    "    n_heads: int,\n"
    "    causal: bool = False,\n"
    ") -> torch.Tensor"
)
DOCSTRING = """\
Return multi-head self-attention of `x`, shape (batch, seq, d_model).

The weights are (d_model, d_model) in nn.Linear's layout (a projection is
x @ w.T). Project q, k and v; split each into `n_heads` heads of
head_dim = d_model // n_heads channels (head h owns channels h*head_dim to
(h+1)*head_dim - 1); run scaled dot-product attention per head (scale
1/sqrt(head_dim), query i sees keys 0..i only when `causal`); concatenate the
heads back in order and apply the output projection w_o. Inference: no dropout.
The result has the shape and dtype of x."""


def multi_head_attention(
    x: torch.Tensor,
    w_q: torch.Tensor,
    w_k: torch.Tensor,
    w_v: torch.Tensor,
    w_o: torch.Tensor,
    n_heads: int,
    causal: bool = False,
) -> torch.Tensor:
    """Project, split heads by reshape and transpose, attend, merge heads, project out."""
    batch, seq, d_model = x.shape
    head_dim = d_model // n_heads

    def heads(t: torch.Tensor) -> torch.Tensor:
        return t.reshape(batch, seq, n_heads, head_dim).transpose(1, 2)

    q, k, v = heads(x @ w_q.T), heads(x @ w_k.T), heads(x @ w_v.T)
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(head_dim)
    if causal:
        future = torch.ones(seq, seq, dtype=torch.bool, device=x.device).triu(diagonal=1)
        scores = scores.masked_fill(future, float("-inf"))
    scores = scores - scores.amax(dim=-1, keepdim=True)
    weights = torch.exp(scores)
    weights = weights / weights.sum(dim=-1, keepdim=True)
    out = (weights @ v).transpose(1, 2).reshape(batch, seq, d_model)
    return out @ w_o.T


class MultiHeadAttentionDrill(Drill):
    """Multi-head attention block: projections, head split, attention, merge, output."""

    id = "multi_head_attention"
    title = "Multi-head attention"
    entry = "multi_head_attention"
    library_calls = ATTENTION_CALLS
    signature = SIGNATURE
    docstring = DOCSTRING
    template = function_template("multi_head_attention", SIGNATURE, DOCSTRING)
    reference_impl = staticmethod(multi_head_attention)
    low_precision_dtypes = ("float16", "bfloat16")
    bank_questions = (468,)
    tolerances = ATTENTION_TOLERANCES
    public_cases = (
        Case("small", {"batch": 1, "seq": 6, "d_model": 8, "heads": 2}),
        Case("small_causal", {"batch": 2, "seq": 5, "d_model": 12, "heads": 3, "causal": True}),
    )
    secret_cases = (
        Case("odd_seq_causal", {"batch": 2, "seq": 23, "d_model": 40, "heads": 5, "causal": True}),
        Case("one_head", {"batch": 3, "seq": 9, "d_model": 16, "heads": 1}),
        Case("many_heads", {"batch": 1, "seq": 17, "d_model": 48, "heads": 12, "causal": True}),
        Case("one_token", {"batch": 2, "seq": 1, "d_model": 8, "heads": 4, "causal": True}),
        Case("sharp", {"batch": 2, "seq": 11, "d_model": 24, "heads": 3, "scale": 3.0}),
    )
    bench_cases = (
        Case(
            "bench_2x256x256", {"batch": 2, "seq": 256, "d_model": 256, "heads": 8, "causal": True}
        ),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded x and four projection matrices scaled like a trained layer's."""
        p = case.params
        gen = torch_generator(self.id, case, seed)
        batch, seq, d_model = int(p["batch"]), int(p["seq"]), int(p["d_model"])
        x = torch.randn(batch, seq, d_model, generator=gen, dtype=torch.float64)
        std = float(p.get("scale", 1.0)) / math.sqrt(d_model)
        ws = [
            torch.randn(d_model, d_model, generator=gen, dtype=torch.float64) * std
            for _ in range(4)
        ]
        args = (finish(x, case, device), *(finish(w, case, device) for w in ws), int(p["heads"]))
        return FunctionCall(args, {"causal": bool(p.get("causal", False))})


DRILL = MultiHeadAttentionDrill()
