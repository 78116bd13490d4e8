"""Claim checks: negation in scope, reversed directions, other figures, substance, paraphrase."""

from __future__ import annotations

import pytest

from graders.claims import best_support, check_claim, point_terms, quantities, terms_absent

SCALING = "Without scaling, softmax saturates at large d (outputs near 0 or 1), gradients vanish"
KV_SIZE = (
    "Llama 3 70B: 2 × 80 × 8 × 128 × 2 = 320 KB per token; at 4K context = 1.3 GB per sequence"
)
KV_USERS = (
    "At 10 concurrent users: 13 GB — a substantial fraction of the ~10 GB free HBM on an H100 "
    "after loading weights at TP=2"
)


def test_a_negation_in_scope_contradicts_the_point() -> None:
    check = check_claim(
        SCALING, "Even without scaling, softmax does not saturate and gradients do not vanish."
    )
    assert check.verdict == "contradicts"
    assert check.negation_conflict > 0
    assert any("denies" in reason for reason in check.reasons)


def test_the_same_claim_in_other_words_is_supported_not_contradicted() -> None:
    check = check_claim(
        SCALING, "Unscaled, large d drives the softmax into saturation and the gradients vanish."
    )
    assert check.verdict != "contradicts"
    assert check.negation_conflict == 0


@pytest.mark.parametrize(
    ("point", "sentence"),
    [
        (
            "Continuous batching gives higher throughput than static batching",
            "Continuous batching gives lower throughput than static batching.",
        ),
        (
            "Greedy descent from top to bottom through the layers",
            "The search descends from the bottom layer to the top.",
        ),
        (
            "Error budget shrinks as incidents burn it; deploys freeze before it runs out",
            "Deploys freeze after the error budget runs out as incidents burn it.",
        ),
        (
            "Pre-norm residuals: x = x + attention(layer_norm(x))",
            "Modern GPT-style models are post-norm: add the attention output to x first.",
        ),
        (
            "Use deterministic encryption for join keys",
            "For join keys you want randomized encryption.",
        ),
        (
            "TP within a node over NVLink; PP across nodes",
            "Put TP across nodes and PP within a node.",
        ),
    ],
)
def test_a_reversed_direction_contradicts(point: str, sentence: str) -> None:
    check = check_claim(point, sentence)
    assert check.verdict == "contradicts", check
    assert check.direction_conflict > 0


def test_a_different_figure_for_the_same_quantity_contradicts() -> None:
    wrong = check_claim(KV_SIZE, "That is about 32 KB per token and 130 MB for the sequence.")
    assert wrong.verdict == "contradicts"
    assert wrong.number_conflict == 1.0
    right = check_claim(KV_SIZE, "Roughly 327,680 bytes per token, about 1.34 GB per sequence.")
    assert right.verdict != "contradicts"
    assert right.numbers and right.numbers > 0


def test_a_different_setting_contradicts() -> None:
    check = check_claim(KV_USERS, "Ten users need 13 GB, more than what is free on H100s at TP=4.")
    assert check.number_conflict > 0


def test_key_terms_are_recognised_in_their_other_forms() -> None:
    answer = (
        "For the 70-billion model with a 4096-token window: 80 layers, 8 KV heads, head dim 128, "
        "2 bytes each. With tensor parallelism over two H100s about 10 GB of GPU memory is free; "
        "ten users need 13 GB."
    )
    # The answer states 70B, 4K and TP in other words; only the two results are really absent.
    assert terms_absent(KV_SIZE, answer) == ("320 KB", "1.3 GB")
    assert terms_absent(KV_USERS, answer) == ()
    paraphrase = (
        "If queries and keys have unit-variance entries, the variance grows with dimension."
    )
    assert (
        terms_absent("If Q, K entries are iid N(0,1), dot product variance is d", paraphrase) == ()
    )


def test_a_term_named_without_its_relation_is_only_mentioned() -> None:
    point = "Too high: OOM on activation spikes during long prefills"
    check = check_claim(point, "OOM is something to think about.")
    assert check.verdict in ("mentions", "unrelated")
    assert check.terms == 1.0 and check.relation < 0.5


def test_figures_keep_their_units_and_ranges() -> None:
    (times,) = quantities("a 2–10× throughput improvement")
    assert (times.family, times.low, times.high) == ("times", 2.0, 10.0)
    assert [q.family for q in quantities("$0.50 at 80% utilization")] == ["money", "percent"]
    # Multiplication signs between operands are not "times" claims.
    assert {q.family for q in quantities("2 × 80 × 8")} == {"count"}
    # "users" is not microseconds.
    assert [q.family for q in quantities("ten users")] == ["count"]
    labels = [t.label for t in point_terms("If Q, K entries are iid N(0,1), dot product")]
    assert "0,1" not in labels


def test_best_support_prefers_a_supporting_sentence_over_a_contradicting_one() -> None:
    sentences = [
        "Softmax does not saturate at large d, so gradients never vanish.",
        "Without the scaling, large d saturates the softmax and gradients vanish.",
        "Attention was introduced in 2017.",
    ]
    support = best_support(SCALING, sentences, similarities=[0.8, 0.7, 0.1])
    assert support is not None and support.index == 1
    assert best_support(SCALING, []) is None


def test_figures_stated_counts_only_figures_with_units() -> None:
    from graders.claims import figures_stated

    assert figures_stated(KV_USERS, "Ten users would not need a meaningful share.") == 0.0
    assert figures_stated(KV_USERS, "Ten users need about 13 GB; 10 GB is free.") == 1.0
    assert figures_stated("Use an OrderedDict", "anything") is None


@pytest.mark.parametrize(
    ("point", "sentence"),
    [
        # A one-word negation denies that word alone, not the words after it.
        (
            "Digest (sha256:abc123) is content-addressed and immutable",
            "Digests are immutable content hashes.",
        ),
        # What stands before a negation is what the clause denies something of.
        (
            "Each new block updates both and rescales the output: no full-row materialization",
            "Each new block updates both and rescales what it has, so the whole row never has "
            "to exist at once.",
        ),
        # "X, not Y" says Y is not X: the same claim as "Y is not X".
        (
            "CPU is not the bottleneck; scaling on CPU never triggers",
            "The GPU is the bottleneck, not the CPU, so CPU load stays low and never triggers "
            "scaling.",
        ),
        # A condition asserts nothing for or against what it names.
        (
            "ML models are only reproducible if you can reconstruct the exact training dataset; "
            "without versioning, datasets are overwritten silently",
            "Without versioning, training data gets overwritten and you can't rebuild the exact "
            "dataset a model was trained on, so you can't reproduce it.",
        ),
        # "Drops X" takes X away, as "no X" does.
        (
            "RMSNorm drops mean subtraction and the bias, keeping only root-mean-square rescaling",
            "RMSNorm skips centering: there's no mean subtraction and no bias, you just divide by "
            "the root-mean-square.",
        ),
        # What happens without X, told as what X prevents.
        (
            "Without scaling, softmax saturates at large d (outputs near 0 or 1), gradients vanish",
            "Scaled dot-product attention divides by sqrt(d_k) so the softmax doesn't saturate.",
        ),
    ],
)
def test_a_correct_paraphrase_with_negations_is_not_a_contradiction(
    point: str, sentence: str
) -> None:
    check = check_claim(point, sentence)
    assert check.verdict != "contradicts", check
    assert check.negation_conflict < 0.5


@pytest.mark.parametrize(
    ("point", "sentence"),
    [
        ("Tags are mutable: the same tag can point to another image", "Tags are immutable."),
        (
            "The KV cache grows with the number of layers",
            "The KV cache does not grow with the number of layers.",
        ),
        ("CPU is not the bottleneck under heavy GPU load", "The CPU is the bottleneck."),
        ("RMSNorm drops mean subtraction", "RMSNorm keeps the mean subtraction."),
        (
            "Without scaling, softmax saturates at large d",
            "Without scaling the softmax does not saturate.",
        ),
        (
            "Without scaling, softmax saturates at large d",
            "Scaling does not matter: the softmax never saturates at large d.",
        ),
    ],
)
def test_a_real_negation_is_still_caught(point: str, sentence: str) -> None:
    check = check_claim(point, sentence)
    assert check.verdict == "contradicts", check
    assert check.negation_conflict >= 0.5


def test_a_denial_is_explained_in_the_points_own_words() -> None:
    check = check_claim(
        "Without scaling, softmax saturates at large d", "The softmax does not saturate."
    )
    assert check.verdict == "contradicts"
    assert any("saturates" in reason for reason in check.reasons), check.reasons
    assert not any("saturat," in r or r.endswith("saturat") for r in check.reasons)


def test_drop_takes_something_away_only_when_it_has_an_object() -> None:
    from graders.claims import _tokens

    def negated(text: str) -> set[str]:
        return {t.word for t in _tokens(text) if t.negated}

    assert "bias" in negated("It drops the bias.")
    assert negated("Latency drops by half.") == set()
    assert negated("Throughput drops when the cache fills.") == set()
    assert negated("We saw a drop in throughput.") == set()


def test_a_figure_the_point_states_is_no_rival_figure() -> None:
    point = "Chinchilla-70B beat Gopher-280B at the same compute budget"
    right = check_claim(point, "Their 70-billion model outperformed Gopher at the same compute.")
    assert right.number_conflict == 0
    wrong = check_claim(point, "Their 30-billion model outperformed Gopher at the same compute.")
    assert wrong.number_conflict == 1.0


def test_a_product_the_point_writes_out_is_its_figure() -> None:
    point = "Cost: 20 × 2 GPUs × ~$3/hr = $120/hr at on-demand pricing"
    assert check_claim(point, "Twenty replicas is 40 GPUs at $3 an hour.").number_conflict == 0
    assert check_claim(point, "Twenty replicas is 60 GPUs at $3 an hour.").number_conflict == 1.0


def test_a_direction_word_attached_to_the_other_action_contradicts() -> None:
    point = "On a hit move the key to the end; on a miss insert at the end and evict from the front"
    wrong = check_claim(point, "Scan the list and evict from the end on every insert.")
    assert wrong.verdict == "contradicts" and wrong.direction_conflict == 1.0
    assert "'end' where the point says 'front'" in wrong.reasons[0]
    right = check_claim(point, "Insert new keys at the end and evict the oldest from the front.")
    assert right.direction_conflict == 0


def test_identifiers_are_recognised_across_separators() -> None:
    formula = "2 × n_layers × n_kv_heads × d_head × bytes_per_element × n_tokens"
    absent = terms_absent(formula, "2 · layers · kv_heads · head_dim · bytes_per_element")
    assert "n_kv_heads" not in absent and "d_head" not in absent
    assert "n_tokens" in absent


def test_on_point_is_the_share_of_the_sentence_the_point_states() -> None:
    from graders.claims import on_point

    point = "Decode: all weights loaded from HBM per step; HBM bandwidth is the bottleneck"
    # decode, HBM and bandwidth are the point's; "bound" is not.
    assert on_point(point, "Decode is bound by HBM bandwidth.") == 0.75
    assert on_point(point, "Attention was introduced in 2017.") == 0.0


def test_an_order_said_of_the_thing_the_question_contrasts_contradicts() -> None:
    from graders.roles import contrasted

    rubric = (
        "ETL: transform before loading — classic data warehouse approach",
        "ELT: load raw data first, transform inside the data warehouse using SQL",
    )
    things = contrasted("What's the difference between ETL and ELT?", rubric)
    swapped = "ELT transforms data before loading and ETL loads first, then transforms it."
    for point in rubric:
        check = check_claim(point, swapped, contrast=things, rubric=rubric)
        assert check.verdict == "contradicts" and check.direction_conflict == 1.0, check
    right = (
        "ETL transforms data before loading it, while ELT loads raw data first and transforms "
        "it in the warehouse."
    )
    for point in rubric:
        assert check_claim(point, right, contrast=things, rubric=rubric).direction_conflict == 0


def test_a_figure_within_a_bound_the_point_states_agrees_with_it() -> None:
    point = "Practical implication: don't use CoT with small (<3B) models for critical tasks"
    within = check_claim(point, "For a tiny model, say 2B, skip the step-by-step prompt.")
    assert within.number_conflict == 0 and within.numbers == 1.0
    assert check_claim(point, "Models under 3 billion parameters should skip it.").numbers == 1.0
    outside = check_claim(point, "For a 7B model skip the step-by-step prompt.")
    assert outside.number_conflict == 1.0
    flipped = check_claim(point, "Only models over 3B should skip it.")
    assert flipped.number_conflict == 1.0
    assert flipped.reasons == ("states over 3B where the point has <3B",)


def test_bounds_are_read_from_the_words_before_a_figure() -> None:
    found = quantities("alert when p99 > 3s for 5 min, at least 80% busy, no more than 2 GB")
    assert [(q.text, q.bound) for q in found] == [
        (">3s", ">"),
        ("5 min", ""),
        ("at least 80%", ">"),
        ("no more than 2 GB", "<"),
    ]


def test_a_single_thing_is_a_rival_of_two_of_them() -> None:
    point = "The FFN is two linear layers with GELU between"
    assert check_claim(point, "The FFN is a single linear layer and a ReLU.").number_conflict == 1
    assert check_claim(point, "Two linear layers, with a GELU in between.").number_conflict == 0
    # "a single spike" counts nothing the point counts.
    spike = "Fire only if sustained, not for a single spike"
    assert check_claim(spike, "A single spike should not page anyone.").number_conflict == 0
