"""Seeded input generators shared by the tensor drills (trusted side only)."""

from __future__ import annotations

import torch

from gpu_runner.drills.base import Case, dtype_of, torch_generator


def case_dtype(case: Case) -> torch.dtype:
    """Return the dtype a case asks for (float32 unless it says otherwise)."""
    return dtype_of(str(case.params.get("dtype", "float32")))


def finish(x: torch.Tensor, case: Case, device: str) -> torch.Tensor:
    """Cast a float64 draw to the case's dtype and move it to `device`."""
    return x.to(case_dtype(case)).to(device)


def logits_like(
    gen: torch.Generator,
    shape: tuple[int, ...],
    *,
    scale: float = 1.0,
    offset: float = 0.0,
    row_spread: float = 0.0,
    masked: float = 0.0,
) -> torch.Tensor:
    """Draw float64 logits: normal * scale + offset, rows shifted apart, a fraction set to -inf.

    `row_spread` gives every row (all but the last dimension) its own offset, so a maximum
    taken over the whole tensor instead of per row underflows some rows. Masking never hides
    a whole row: the first entry of each row stays.
    """
    x = torch.randn(shape, generator=gen, dtype=torch.float64) * scale + offset
    if row_spread:
        shifts = torch.randn(shape[:-1] + (1,), generator=gen, dtype=torch.float64)
        x = x + shifts * row_spread
    if masked:
        hide = torch.rand(shape, generator=gen, dtype=torch.float64) < masked
        hide[..., 0] = False
        x = x.masked_fill(hide, float("-inf"))
    return x


def case_logits(drill_id: str, case: Case, seed: int, device: str) -> torch.Tensor:
    """Return seeded logits for a case whose params name shape, scale, offset, spread, mask."""
    p = case.params
    gen = torch_generator(drill_id, case, seed)
    x = logits_like(
        gen,
        tuple(p["shape"]),
        scale=float(p.get("scale", 1.0)),
        offset=float(p.get("offset", 0.0)),
        row_spread=float(p.get("row_spread", 0.0)),
        masked=float(p.get("masked", 0.0)),
    )
    return finish(x, case, device)


def distinct_logits(
    gen: torch.Generator, shape: tuple[int, ...], dtype: torch.dtype, scale: float
) -> torch.Tensor:
    """Draw float64 normal-looking logits whose values are distinct along the last dimension.

    Top-k and top-p are only well defined without ties at the cut. Plain normal draws tie
    often in float32 once a row holds tens of thousands of values, so each row is a
    stratified sample (one uniform per 1/vocab slice, mapped through the normal quantile) in
    random order; rows that still tie once cast to `dtype` are redrawn.
    """
    vocab = shape[-1]
    rows = shape[:-1]
    n_rows = 1
    for size in rows:
        n_rows *= size

    def ascending() -> torch.Tensor:
        # Stratum i holds (i + U) / vocab, so a row is strictly increasing before the shuffle
        # and a tie check needs no sort.
        strata = torch.arange(vocab, dtype=torch.float64)
        u = (strata + torch.rand((n_rows, vocab), generator=gen, dtype=torch.float64)) / vocab
        u = u.clamp(1e-12, 1 - 1e-12)
        drawn: torch.Tensor = scale * (2.0**0.5) * torch.erfinv(2.0 * u - 1.0)
        return drawn

    values = ascending()
    for _ in range(100):
        cast = values.to(dtype)
        tied = (cast[:, 1:] == cast[:, :-1]).any(dim=-1)
        if not bool(tied.any()):
            break
        values = torch.where(tied.unsqueeze(-1), ascending(), values)
    else:
        raise RuntimeError("could not draw tie-free logits; use a wider dtype or fewer values")
    # A different order per row without a sort or a permutation per row (those cost seconds
    # on a big bench case): one random permutation, shifted by a random offset in each row.
    perm = torch.randperm(vocab, generator=gen)
    shifts = torch.randint(0, vocab, (n_rows, 1), generator=gen)
    order = perm[(torch.arange(vocab) + shifts) % vocab]
    shuffled = values.to(dtype).to(torch.float64).gather(-1, order)
    out: torch.Tensor = shuffled.reshape(shape)
    return out
