"""Drill `label_smoothed_ce`: cross-entropy with label smoothing and ignored positions."""

from __future__ import annotations

import torch

from gpu_runner.calling import FunctionCall
from gpu_runner.drills.base import Case, Drill, Tolerance, function_template, torch_generator
from gpu_runner.drills.generators import finish, logits_like
from gpu_runner.library_calls import LABEL_SMOOTHING_CALLS

SIGNATURE = (
    "def label_smoothed_cross_entropy(\n"
    "    logits: torch.Tensor, target: torch.Tensor, epsilon: float, ignore_index: int = -100\n"
    ") -> torch.Tensor"
)
DOCSTRING = """\
Return the mean label-smoothed cross-entropy as a 0-dim tensor.

logits has shape (..., vocab); target (int64) has the shape of logits without
the last dimension. At each position the target distribution puts (1 - epsilon)
on the label plus epsilon / vocab on every token (the label included), and the
loss is -sum_j target_j * log_softmax(logits)_j. Positions whose target equals
`ignore_index` contribute nothing; the mean is over the others (at least one).
The result has the dtype of logits; logits may be in the hundreds."""


def label_smoothed_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, epsilon: float, ignore_index: int = -100
) -> torch.Tensor:
    """Return the mean label-smoothed cross-entropy over non-ignored positions."""
    log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    keep = target != ignore_index
    labels = torch.where(keep, target, torch.zeros_like(target))
    nll = -log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    uniform = -log_probs.mean(dim=-1)
    per_position = (1.0 - epsilon) * nll + epsilon * uniform
    per_position = torch.where(keep, per_position, torch.zeros_like(per_position))
    return per_position.sum() / keep.sum()


class LabelSmoothedCEDrill(Drill):
    """Label-smoothed cross-entropy with ignore_index."""

    id = "label_smoothed_ce"
    title = "Label-smoothed cross-entropy"
    entry = "label_smoothed_cross_entropy"
    library_calls = LABEL_SMOOTHING_CALLS
    signature = SIGNATURE
    docstring = DOCSTRING
    template = function_template("label_smoothed_ce", SIGNATURE, DOCSTRING)
    reference_impl = staticmethod(label_smoothed_cross_entropy)
    low_precision_dtypes = ("float16", "bfloat16")
    bank_questions = (493, 503)
    public_cases = (
        Case("rows", {"shape": (6, 11), "epsilon": 0.1}),
        Case("with_padding", {"shape": (2, 5, 13), "epsilon": 0.2, "ignored": 0.3}),
    )
    secret_cases = (
        Case("no_smoothing", {"shape": (8, 7), "epsilon": 0.0, "ignored": 0.25}),
        Case("large_logits", {"shape": (4, 9, 37), "epsilon": 0.1, "scale": 60.0, "ignored": 0.2}),
        Case("custom_ignore", {"shape": (3, 8, 29), "epsilon": 0.15, "ignored": 0.4, "ignore": 0}),
        Case("big_vocab", {"shape": (2, 3, 1000), "epsilon": 0.3, "ignored": 0.3, "scale": 3.0}),
        Case("heavy_smoothing", {"shape": (10, 5), "epsilon": 0.9, "scale": 4.0}),
    )
    bench_cases = (
        Case("bench_128x32000", {"shape": (128, 32000), "epsilon": 0.1, "ignored": 0.1}),
        Case("bench_2x32x50257", {"shape": (2, 32, 50257), "epsilon": 0.1, "ignored": 0.1}),
    )
    tolerances = {
        "float64": Tolerance(1e-10, 1e-10),
        "float32": Tolerance(1e-5, 1e-5),
        "float16": Tolerance(5e-3, 5e-3),
        "bfloat16": Tolerance(2e-2, 2e-2),
    }

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded logits, labels with a fraction set to the ignore index, and epsilon."""
        p = case.params
        gen = torch_generator(self.id, case, seed)
        shape = tuple(p["shape"])
        vocab = shape[-1]
        logits = logits_like(gen, shape, scale=float(p.get("scale", 2.0)))
        ignore = int(p.get("ignore", -100))
        target = torch.randint(0, vocab, shape[:-1], generator=gen)
        if ignore >= 0:
            # The ignore index is a real token id here: keep it out of the kept labels.
            target = torch.where(target == ignore, (target + 1) % vocab, target)
        hide = torch.rand(shape[:-1], generator=gen) < float(p.get("ignored", 0.0))
        hide.reshape(-1)[0] = False
        target = target.masked_fill(hide, ignore)
        kwargs = {"ignore_index": ignore} if "ignore" in p else {}
        args = (finish(logits, case, device), target.to(device), float(p["epsilon"]))
        return FunctionCall(args, kwargs)


DRILL = LabelSmoothedCEDrill()
