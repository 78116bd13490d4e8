"""The drill catalogue: every coding exercise StudyBot can judge, by id."""

from __future__ import annotations

from gpu_runner.drills import (
    adamw,
    alibi,
    attention,
    beam_search,
    block_manager,
    bpe,
    constrained_decode,
    continuous_batching,
    dpo,
    gelu,
    gptq,
    grad_checkpoint,
    hash_ring,
    idempotent_retry,
    interleaving,
    kv_cache,
    kv_cache_class,
    label_smoothing,
    logsumexp,
    lora,
    lru_cache,
    multi_head_attention,
    priority_queue,
    retry_backoff,
    rope,
    sampling_filters,
    sliding_window,
    softmax,
    speculative,
    sse_stream,
    temperature_scaling,
    tenant_quota,
    tensor_parallel,
    token_bucket,
    transformer_numpy,
    word_search,
)
from gpu_runner.drills.base import Case, Drill, Tolerance, check_in_process

__all__ = [
    "DRILLS",
    "PROSE_QUESTIONS",
    "Case",
    "Drill",
    "Tolerance",
    "UnknownDrillError",
    "check_in_process",
    "get_drill",
]


class UnknownDrillError(ValueError):
    """Raised for a drill id that is not in the catalogue."""


def _catalogue(*drills: Drill) -> dict[str, Drill]:
    out: dict[str, Drill] = {}
    for drill in drills:
        if drill.id in out:
            raise RuntimeError(f"two drills share the id {drill.id!r}")
        out[drill.id] = drill
    return out


# Ordered as a member meets them: numerics, attention, decoding, positions, training,
# serving arithmetic, then the data-structure and DSA drills.
DRILLS: dict[str, Drill] = _catalogue(
    softmax.DRILL,
    logsumexp.DRILL,
    attention.ATTENTION,
    attention.TILED_ATTENTION,
    sampling_filters.TOP_K,
    sampling_filters.TOP_P,
    rope.DRILL,
    alibi.DRILL,
    gelu.DRILL,
    label_smoothing.DRILL,
    adamw.DRILL,
    lora.DRILL,
    dpo.DRILL,
    kv_cache.DRILL,
    lru_cache.DRILL,
    token_bucket.DRILL,
    hash_ring.DRILL,
    block_manager.DRILL,
    word_search.DRILL,
    interleaving.DRILL,
    kv_cache_class.DRILL,
    priority_queue.DRILL,
    sliding_window.DRILL,
    temperature_scaling.DRILL,
    multi_head_attention.DRILL,
    speculative.VERIFY,
    speculative.DECODE,
    tensor_parallel.DRILL,
    bpe.DRILL,
    continuous_batching.DRILL,
    beam_search.DRILL,
    transformer_numpy.DRILL,
    constrained_decode.DRILL,
    gptq.DRILL,
    retry_backoff.DRILL,
    idempotent_retry.DRILL,
    tenant_quota.DRILL,
    grad_checkpoint.DRILL,
    sse_stream.DRILL,
)


# E.12 coding questions whose answer is pseudo-code: running code cannot judge them, so no drill
# pretends to. A written answer is graded against the question's sketch points in
# content/data/sketch_points.yaml (E12-<number>), like any prose answer to a coding question.
PROSE_QUESTIONS: dict[int, str] = {
    495: "a vLLM scheduler step in pseudo-code (admission, KV blocks, preemption)",
    497: "FSDP / ZeRO-3 gradient sharding in pseudo-code (reduce-scatter, step, all-gather)",
}


def get_drill(drill_id: str) -> Drill:
    """Return the drill called `drill_id`, or raise UnknownDrillError listing the known ids."""
    try:
        return DRILLS[drill_id]
    except KeyError:
        known = ", ".join(DRILLS)
        raise UnknownDrillError(f"unknown drill {drill_id!r}; known drills: {known}") from None


from gpu_runner.drills import kernels as _kernels  # noqa: E402,F401  (the Triton kernel track)
