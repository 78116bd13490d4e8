"""The kernel track: Triton variants of the kernel drills and two kernel-only drills.

Importing this package adds them to the drill catalogue (`gpu_runner.drills.DRILLS`).
"""

from __future__ import annotations

from gpu_runner.drills import DRILLS, Drill
from gpu_runner.drills.kernels import attention, numerics, selection
from gpu_runner.drills.kernels.base import KernelDrill

__all__ = ["KERNEL_DRILLS", "KernelDrill"]

KERNEL_DRILLS: tuple[Drill, ...] = (
    numerics.SOFTMAX,
    numerics.LOGSUMEXP,
    attention.TILED_ATTENTION,
    attention.ATTENTION,
    attention.ROPE,
    numerics.GELU,
    selection.TOP_K,
    numerics.LAYER_NORM,
    selection.MATMUL,
)

for _drill in KERNEL_DRILLS:
    if _drill.id in DRILLS:
        raise RuntimeError(f"two drills share the id {_drill.id!r}")
    DRILLS[_drill.id] = _drill
