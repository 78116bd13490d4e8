"""What the kernel track adds to a drill: a Triton template, and how the judge treats it.

A kernel drill is judged like any drill (seeded cases, a trusted PyTorch reference, the same
tolerances), but the member writes a `@triton.jit` kernel and the launcher the judge calls. On
a `cuda` runner the kernel runs natively and is timed against the PyTorch reference; on a CPU
runner it runs under Triton's interpreter (`TRITON_INTERPRET=1`) and is judged for correctness
only. The judge requires the launcher to launch a Triton kernel on every checked call.

Nothing here imports triton: the trusted side (the bot, the judge) needs none of it.
"""

from __future__ import annotations

from typing import Any

from gpu_runner.drills.base import Drill
from gpu_runner.library_calls import LibraryCall, family

KERNEL_NOTE = (
    "Kernel track: write the `@triton.jit` kernel and the launcher the judge calls; the "
    "launcher must launch a Triton kernel for every call. On a `cuda` runner the kernel runs "
    "natively and is timed against the PyTorch reference (CUDA events, L2 flushed). On a CPU "
    "runner it runs under Triton's interpreter (TRITON_INTERPRET=1) and is judged for "
    "correctness only: timing needs a GPU runner. CUDA C++ through "
    "`torch.utils.cpp_extension.load_inline` is accepted on `cuda` runners that have a compiler."
)

MATMUL_CALLS = family(
    "torch.matmul",
    "torch.mm",
    "torch.bmm",
    "torch.addmm",
    "torch.einsum",
    "torch.tensordot",
    "torch.Tensor.matmul",
    "torch.Tensor.mm",
    "torch.Tensor.bmm",
    "torch.nn.functional.linear",
)
LAYER_NORM_CALLS = family(
    "torch.nn.functional.layer_norm",
    "torch.layer_norm",
    "torch.native_layer_norm",
    "torch.nn.LayerNorm",
    "torch.ops.aten.layer_norm",
    "torch.ops.aten.native_layer_norm",
)
TOP_K_CALLS = family("torch.topk", "torch.Tensor.topk", "torch.kthvalue", "torch.Tensor.kthvalue")


class KernelDrill(Drill):
    """A drill whose submission is a Triton kernel and its launcher."""

    kernel_language = "triton"
    # The plain drill this is the kernel variant of ("" for a kernel-only drill).
    variant_of = ""
    library_calls: tuple[LibraryCall, ...] = ()

    @property
    def description(self) -> str:
        """Return the markdown a member reads, with what the kernel track asks."""
        text = super().description.replace(
            "On a CUDA worker the inputs live on the GPU and the submission may also launch "
            "Triton kernels; on a CPU worker plain PyTorch is all there is.",
            "",
        )
        return text.rstrip() + "\n\n" + KERNEL_NOTE + "\n"

    @property
    def reference_source(self) -> str:
        """Return the PyTorch reference as a file, its function also under the entry's name."""
        source = super().reference_source
        name = self.reference_impl.__name__
        return source if name == self.entry else f"{source}\n\n{self.entry} = {name}\n"

    def summary(self) -> dict[str, Any]:
        """Return the public facts of the drill, with its track."""
        out = super().summary()
        out["track"] = self.kernel_language
        out["variant_of"] = self.variant_of or None
        return out


def kernel_template(drill_id: str, kernel: str, launcher: str) -> str:
    """Return a starter file: the imports, a kernel to finish and its launcher.

    The launcher starts by raising NotImplementedError, so the untouched template fails with
    a clear message rather than with whatever an unwritten kernel leaves in memory.
    """
    kernel_name = kernel.split("def ", 1)[1].split("(", 1)[0]
    # The launcher's docstring is one line: the body starts right after it.
    head, sep, rest = launcher.partition('"""\n')
    launcher = (
        f"{head}{sep}    raise NotImplementedError("
        f'"finish {kernel_name}, then delete this line")\n{rest}'
    )
    return (
        f'"""Drill {drill_id}: finish the Triton kernel below; the judge calls the launcher."""\n\n'
        "import torch\n"
        "import triton\n"
        "import triton.language as tl\n\n\n"
        f"{kernel.strip()}\n\n\n{launcher.strip()}\n"
    )
