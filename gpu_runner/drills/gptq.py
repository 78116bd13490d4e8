"""Drill `gptq`: GPTQ weight quantisation with error compensation, judged by its output error."""

from __future__ import annotations

import torch

from gpu_runner.calling import FunctionCall, Trace
from gpu_runner.drills.base import Case, Drill, function_template, torch_generator

SIGNATURE = (
    "def gptq_quantize(\n"
    "    w: torch.Tensor, x: torch.Tensor, scale: torch.Tensor, bits: int, damp: float = 0.01\n"
    ") -> torch.Tensor"
)
DOCSTRING = """\
Quantise the weights `w` (rows, cols) of a linear layer y = x @ w.T with GPTQ;
return the dequantised weights, shape and dtype of w.

x (n, cols) is calibration input. The grid is symmetric per row: every returned
element is scale[row] * q with an integer q in [-2**(bits-1), 2**(bits-1) - 1].
H = x.T @ x, damped by adding damp * mean(diag(H)) to its diagonal. Quantise the
columns one at a time, left to right: round column j to the grid, then spread its
error over the columns not yet quantised, w[:, j+1:] -= err * Hinv[j, j+1:] /
Hinv[j, j] with err = w[:, j] - q_j, where Hinv is the inverse Hessian of the
columns still unquantised (update it after each column, or use the upper Cholesky
factor of H^-1 as the GPTQ paper does: it is the same thing).

Judged by the layer's output error ||x @ (w - result).T||^2: it must come within
15% of the way from what GPTQ reaches back to plain round-to-nearest (ties in
rounding and the order of floating-point operations may change a few codes), and
every element must lie on the grid."""


def gptq_quantize(
    w: torch.Tensor, x: torch.Tensor, scale: torch.Tensor, bits: int, damp: float = 0.01
) -> torch.Tensor:
    """GPTQ with the upper Cholesky factor of the damped inverse Hessian, in float64."""
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    work = w.to(torch.float64).clone()
    xs = x.to(torch.float64)
    s = scale.to(torch.float64)
    h = xs.T @ xs
    h += damp * h.diag().mean() * torch.eye(h.shape[0], dtype=h.dtype)
    u = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    q = torch.zeros_like(work)
    for j in range(work.shape[1]):
        q[:, j] = torch.clamp(torch.round(work[:, j] / s), lo, hi) * s
        err = (work[:, j] - q[:, j]) / u[j, j]
        work[:, j:] -= err[:, None] * u[j, j:][None, :]
    return q.to(w.dtype)


def output_error(w: torch.Tensor, q: torch.Tensor, x: torch.Tensor) -> float:
    """Return ||x @ (w - q).T||^2 in float64."""
    diff = w.to(torch.float64) - q.to(torch.float64)
    return float(((x.to(torch.float64) @ diff.T) ** 2).sum())


# How far back towards round-to-nearest a result may fall from the reference GPTQ error.
SLACK = 0.15


class GPTQDrill(Drill):
    """GPTQ judged by the output error it reaches and by staying on the grid."""

    id = "gptq"
    title = "GPTQ quantisation"
    entry = "gptq_quantize"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = function_template("gptq", SIGNATURE, DOCSTRING)
    reference_impl = staticmethod(gptq_quantize)
    reference_imports = ("import torch",)
    upcast_reference = False
    bank_questions = (484,)
    public_cases = (
        Case("int4_small", {"rows": 8, "cols": 16, "n": 64, "bits": 4, "corr": 0.8}),
        Case("int3", {"rows": 12, "cols": 24, "n": 96, "bits": 3, "corr": 0.6}),
    )
    secret_cases = (
        Case("int2", {"rows": 8, "cols": 16, "n": 64, "bits": 2, "corr": 0.7}),
        Case("int4_wide", {"rows": 24, "cols": 64, "n": 256, "bits": 4, "corr": 0.9}),
        Case("few_samples", {"rows": 16, "cols": 32, "n": 24, "bits": 4, "corr": 0.8}),
        Case("int8", {"rows": 16, "cols": 32, "n": 128, "bits": 8, "corr": 0.9}),
    )
    bench_cases = (
        Case("bench_128x256", {"rows": 128, "cols": 256, "n": 512, "bits": 4, "corr": 0.8}),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return weights, correlated calibration inputs (where GPTQ beats rounding) and a
        per-row scale that maps the row's largest weight to the top of the grid."""
        p = case.params
        gen = torch_generator(self.id, case, seed)
        rows, cols, n, bits = (int(p[k]) for k in ("rows", "cols", "n", "bits"))
        w = torch.randn(rows, cols, generator=gen, dtype=torch.float64)
        base = torch.randn(n, cols, generator=gen, dtype=torch.float64)
        mix = torch.randn(cols, cols, generator=gen, dtype=torch.float64) / cols**0.5
        x = base + float(p["corr"]) * 3 * base @ mix
        scale = w.abs().amax(dim=1) / (2 ** (bits - 1) - 1)
        args = tuple(t.to(torch.float32).to(device) for t in (w, x, scale))
        return FunctionCall((*args, bits), {"damp": 0.01})

    def compare(
        self,
        case: Case,
        got: object,
        expected: object,
        inputs: FunctionCall | Trace | None = None,
    ) -> str | None:
        """Check shape, dtype, the grid, then the output error against GPTQ and rounding."""
        assert isinstance(inputs, FunctionCall) and isinstance(expected, torch.Tensor)
        w, x, scale, bits = (a.cpu() if isinstance(a, torch.Tensor) else a for a in inputs.args)
        if not isinstance(got, torch.Tensor):
            return f"output should be a torch.Tensor, got {type(got).__name__}"
        if tuple(got.shape) != tuple(w.shape) or got.dtype != w.dtype:
            return (
                f"output has shape {tuple(got.shape)} and dtype {got.dtype}, expected "
                f"{tuple(w.shape)} and {w.dtype}"
            )
        codes = got.detach().cpu().to(torch.float64) / scale.to(torch.float64)[:, None]
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        off = (codes - codes.round()).abs() > 1e-3
        outside = (codes.round() < lo) | (codes.round() > hi)
        if bool((off | outside).any()):
            r, c = (int(i) for i in torch.nonzero(off | outside)[0])
            return (
                f"output[{r}, {c}] = {float(got[r, c]):.6g} is {float(codes[r, c]):.4g} x "
                f"scale[{r}], not an integer in [{lo}, {hi}] times the scale: "
                "every element must lie on the grid (round, then clamp)"
            )
        rtn = torch.clamp(torch.round(w.double() / scale.double()[:, None]), lo, hi)
        e_rtn = output_error(w, rtn * scale.double()[:, None], x)
        e_ref = output_error(w, expected.cpu(), x)
        e_got = output_error(w, got.detach().cpu(), x)
        limit = e_ref + SLACK * max(e_rtn - e_ref, 0.0) + 1e-9 * e_rtn
        if e_got <= limit:
            return None
        return (
            f"output error ||x @ (w - q).T||^2 = {e_got:.6g}; GPTQ reaches {e_ref:.6g} and "
            f"plain rounding {e_rtn:.6g} (at most {limit:.6g} passes): is each column's error "
            "spread over the later columns with the inverse Hessian of the columns left?"
        )


DRILL = GPTQDrill()
