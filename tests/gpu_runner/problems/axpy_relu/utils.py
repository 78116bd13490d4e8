"""Checking helpers of the axpy-relu problem."""

import torch


def close_to(expected: torch.Tensor, got: object, rtol: float = 1e-5, atol: float = 1e-6):
    """Return (ok, message) comparing got with expected elementwise."""
    if not isinstance(got, torch.Tensor):
        return False, f"expected a tensor, got {type(got).__name__}"
    if got.shape != expected.shape:
        return False, f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
    bad = ~torch.isclose(got.float(), expected.float(), rtol=rtol, atol=atol)
    if bool(bad.any()):
        return False, f"{int(bad.sum())} of {bad.numel()} values differ from the reference"
    return True, ""
