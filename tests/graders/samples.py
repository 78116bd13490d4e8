"""Questions and answers the grader tests share."""

from __future__ import annotations

from graders.models import RubricQuestion

ADAMW = RubricQuestion(
    id="E1-005",
    text="What does AdamW cost in memory relative to SGD?",
    rubric=(
        "Adam: m (first moment) + v (second moment) in FP32 per parameter = 8 bytes/param on "
        "top of parameter + gradient",
        "For 7B model: 7B × 8 = 56 GB optimizer state alone in FP32",
        "AdamW adds weight decay directly to the parameter update, decoupling it from the "
        "gradient — cleaner L2 regularization",
    ),
)
STRONG_ADAMW = (
    "Adam keeps two extra tensors for every weight: the first moment m and the second moment v. "
    "Both are kept in fp32, so that is 8 extra bytes per parameter on top of the weights and the "
    "gradients.\n"
    "For a 7B model that is 7e9 × 8 bytes ≈ 56 GB of optimizer state alone.\n"
    "AdamW applies weight decay directly to the weights in the update instead of adding it to "
    "the gradient, so it is decoupled from the adaptive scaling."
)
