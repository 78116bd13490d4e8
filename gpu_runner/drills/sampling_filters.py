"""Drills `top_k_filter` and `top_p_filter`: the logit filters in front of sampling."""

from __future__ import annotations

import torch

from gpu_runner.calling import FunctionCall, Trace
from gpu_runner.drills.base import (
    Case,
    Drill,
    Tolerance,
    dtype_name,
    function_template,
    torch_generator,
)
from gpu_runner.drills.generators import case_dtype, distinct_logits

TOP_K_SIGNATURE = "def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor"
TOP_K_DOCSTRING = """\
Return `logits` with all but the k largest values of each row set to -inf.

Kept values are unchanged; rows run along the last dimension. `logits` has
shape (..., vocab) with no ties within a row; 1 <= k <= vocab. The vocabulary
size is not a power of two and logits may all be negative."""

TOP_P_SIGNATURE = "def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor"
TOP_P_DOCSTRING = """\
Return `logits` with every token outside the top-p nucleus set to -inf.

Kept values are unchanged. Per row (the last dimension), take the probabilities softmax(logits) in
descending order and keep the smallest prefix whose cumulative probability
reaches p: the token that crosses p is kept, and the top token is always kept
(even when its probability alone exceeds p). Equivalently: keep a token when
the probability of the tokens ranked above it sums to less than p.
0 < p < 1; no row has ties, and no cumulative sum lies within 2e-5 of p
(float32), so the cut never depends on rounding."""

# Filtered values must be the input values themselves; only how -inf is produced may vary.
FILTER_TOLERANCES = {
    "float64": Tolerance(1e-12, 0.0),
    "float32": Tolerance(1e-6, 0.0),
    "float16": Tolerance(1e-3, 0.0),
    "bfloat16": Tolerance(8e-3, 0.0),
}

# Cumulative probabilities closer to p than this would make the cut depend on rounding in
# the member's softmax and cumulative sum (float32 errors are ~1e-6 for a thousand tokens).
TOP_P_MARGINS = {"float64": 2e-5, "float32": 2e-5, "float16": 4e-3, "bfloat16": 3e-2}


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Return the logits with all but the k largest per row set to -inf."""
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Return the logits with everything outside the top-p nucleus set to -inf."""
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    mass_above = torch.cumsum(probs, dim=-1) - probs
    drop_sorted = mass_above >= p
    drop_sorted[..., 0] = False
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


class TopKDrill(Drill):
    """Keep the k largest logits per row."""

    id = "top_k_filter"
    title = "Top-k logit filter"
    entry = "top_k_filter"
    signature = TOP_K_SIGNATURE
    docstring = TOP_K_DOCSTRING
    template = function_template("top_k_filter", TOP_K_SIGNATURE, TOP_K_DOCSTRING)
    reference_impl = staticmethod(top_k_filter)
    low_precision_dtypes = ("float16",)
    bank_questions = (470,)
    tolerances = FILTER_TOLERANCES
    public_cases = (
        Case("rows", {"shape": (3, 20), "k": 5}),
        Case("greedy", {"shape": (4, 17), "k": 1}),
    )
    secret_cases = (
        Case("keep_all", {"shape": (2, 13), "k": 13}),
        Case("batch_seq_vocab", {"shape": (2, 3, 101), "k": 7}),
        Case("all_negative", {"shape": (5, 37), "k": 4, "offset": -50.0}),
        Case("big_vocab", {"shape": (2, 1000), "k": 50, "scale": 3.0}),
    )
    bench_cases = (
        Case("bench_32x50257_k50", {"shape": (32, 50257), "k": 50, "scale": 3.0}),
        Case("bench_128x32000_k40", {"shape": (128, 32000), "k": 40, "scale": 3.0}),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded tie-free logits and k."""
        p = case.params
        gen = torch_generator(self.id, case, seed)
        x = distinct_logits(gen, tuple(p["shape"]), case_dtype(case), float(p.get("scale", 1.0)))
        x = x + float(p.get("offset", 0.0))
        return FunctionCall((x.to(case_dtype(case)).to(device), int(p["k"])), {})


def _cumulative_sorted(x: torch.Tensor) -> torch.Tensor:
    probs = torch.softmax(x.to(torch.float64), dim=-1).sort(dim=-1, descending=True).values
    return torch.cumsum(probs, dim=-1)


class TopPDrill(Drill):
    """Keep the nucleus: the smallest top prefix whose probability reaches p."""

    id = "top_p_filter"
    title = "Top-p (nucleus) logit filter"
    entry = "top_p_filter"
    signature = TOP_P_SIGNATURE
    docstring = TOP_P_DOCSTRING
    template = function_template("top_p_filter", TOP_P_SIGNATURE, TOP_P_DOCSTRING)
    reference_impl = staticmethod(top_p_filter)
    low_precision_dtypes = ("float16", "bfloat16")
    bank_questions = (469,)
    tolerances = FILTER_TOLERANCES
    public_cases = (
        Case("rows", {"shape": (3, 20), "p": 0.9, "scale": 2.0}),
        Case("top_token_alone", {"shape": (4, 17), "p": 0.05, "scale": 2.0}),
    )
    secret_cases = (
        Case("half", {"shape": (4, 50), "p": 0.5, "scale": 2.0}),
        Case("peaked", {"shape": (3, 40), "p": 0.6, "scale": 6.0}),
        Case("nearly_all", {"shape": (2, 23), "p": 0.999, "scale": 1.0}),
        Case("batch_seq_vocab", {"shape": (2, 3, 101), "p": 0.8, "scale": 2.5}),
        Case("big_vocab", {"shape": (2, 1000), "p": 0.95, "scale": 3.0}),
    )
    bench_cases = (
        Case(
            "bench_32x50257_p09",
            {"shape": (32, 50257), "p": 0.9, "scale": 3.0, "boundary_band": 1e-4},
        ),
        Case(
            "bench_128x32000_p095",
            {"shape": (128, 32000), "p": 0.95, "scale": 3.0, "boundary_band": 1e-4},
        ),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded tie-free logits whose cumulative probabilities stay clear of p."""
        params = case.params
        gen = torch_generator(self.id, case, seed)
        dtype = case_dtype(case)
        shape = tuple(params["shape"])
        p = float(params["p"])
        scale = float(params.get("scale", 1.0))
        margin = TOP_P_MARGINS[dtype_name(dtype)]
        x = distinct_logits(gen, shape, dtype, scale)
        # Rows of tens of thousands always have a cumulative sum near p; there the comparison
        # accepts either decision for tokens within `boundary_band` instead of redrawing.
        if "boundary_band" not in params:
            for _ in range(1000):
                near = ((_cumulative_sorted(x) - p).abs() < margin).any(dim=-1)
                if not bool(near.any()):
                    break
                fresh = distinct_logits(gen, shape, dtype, scale)
                x = torch.where(near.unsqueeze(-1), fresh, x)
            else:
                raise RuntimeError(f"could not draw logits clear of p={p}")
        return FunctionCall((x.to(dtype).to(device), p), {})

    def compare(
        self,
        case: Case,
        got: object,
        expected: object,
        inputs: FunctionCall | Trace | None = None,
    ) -> str | None:
        """Compare filtered logits, accepting either decision for tokens on the p boundary.

        A token whose mass above lies within the band around p is kept or dropped depending
        on float rounding in the member's cumulative sum, so both answers count as right.
        """
        if (
            isinstance(got, torch.Tensor)
            and isinstance(expected, torch.Tensor)
            and isinstance(inputs, FunctionCall)
            and got.shape == expected.shape
            and got.dtype == expected.dtype
        ):
            logits = inputs.args[0].detach().cpu().to(torch.float64)
            p = float(inputs.args[1])
            margin = TOP_P_MARGINS.get(dtype_name(got.dtype), 2e-5)
            band = float(case.params.get("boundary_band", margin / 2))
            probs = torch.softmax(logits, dim=-1)
            sorted_probs, order = probs.sort(dim=-1, descending=True)
            above_sorted = torch.cumsum(sorted_probs, dim=-1) - sorted_probs
            above = torch.empty_like(above_sorted).scatter(-1, order, above_sorted)
            ambiguous = (above - p).abs() < band
            if bool(ambiguous.any()):
                got = torch.where(ambiguous.to(got.device), expected.to(got.device), got)
        return super().compare(case, got, expected, inputs)


TOP_K = TopKDrill()
TOP_P = TopPDrill()
