"""Drill `speculative_verify`: the accept/reject step of speculative decoding."""

from __future__ import annotations

import torch

from gpu_runner.calling import FunctionCall
from gpu_runner.drills.base import Case, Drill, Tolerance, function_template, torch_generator

VERIFY_SIGNATURE = (
    "def speculative_verify(\n"
    "    draft_tokens: torch.Tensor,\n"
    "    p_draft: torch.Tensor,\n"
    "    p_target: torch.Tensor,\n"
    "    u: torch.Tensor,\n"
    ") -> tuple[int, torch.Tensor]"
)
VERIFY_DOCSTRING = """\
Verify k draft tokens against the target model; return (n_accepted, next_dist).

draft_tokens: (k,) int64, the tokens the draft model sampled.
p_draft: (k, vocab), the draft model's distribution at each of those positions.
p_target: (k + 1, vocab), the target model's distribution at the same positions
    plus one more (after the last draft token).
u: (k,), one uniform draw in [0, 1) per draft token.

Going left to right, accept draft token i = t when u[i] <= min(1, p_target[i, t] /
p_draft[i, t]); stop at the first rejection. n_accepted is the number accepted
(0..k). next_dist is the distribution the next token is sampled from: after a
rejection at i, the residual max(0, p_target[i] - p_draft[i]) renormalised to sum
to 1; when all k are accepted, p_target[k] (the bonus token). next_dist has shape
(vocab,) and the dtype of p_target; n_accepted is a Python int. The draws never
land within 1e-4 of an acceptance threshold."""


def speculative_verify(
    draft_tokens: torch.Tensor,
    p_draft: torch.Tensor,
    p_target: torch.Tensor,
    u: torch.Tensor,
) -> tuple[int, torch.Tensor]:
    """Accept while u <= p_target / p_draft; then the residual, or the bonus distribution."""
    for i, t in enumerate(draft_tokens.tolist()):
        if float(u[i]) * float(p_draft[i, t]) > float(p_target[i, t]):
            residual = (p_target[i] - p_draft[i]).clamp(min=0)
            return i, residual / residual.sum()
    return len(draft_tokens), p_target[len(draft_tokens)].clone()


def draft_and_target(
    gen: torch.Generator, rows: int, vocab: int, *, close: float, sparse: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return float64 (rows, vocab) draft and target distributions.

    `close` in [0, 1] pulls the draft towards the target (1: identical); `sparse` zeroes
    that share of each target row (never the whole row), so some draft tokens are
    impossible for the target.
    """
    target_logits = torch.randn(rows, vocab, generator=gen, dtype=torch.float64) * 2
    noise = torch.randn(rows, vocab, generator=gen, dtype=torch.float64) * 2
    draft_logits = target_logits + (1 - close) * noise
    target = torch.softmax(target_logits, -1)
    if sparse:
        hide = torch.rand(rows, vocab, generator=gen, dtype=torch.float64) < sparse
        hide[:, 0] = False
        target = target.masked_fill(hide, 0.0)
        target = target / target.sum(-1, keepdim=True)
    return torch.softmax(draft_logits, -1), target


def uniform_away_from(gen: torch.Generator, threshold: float, margin: float = 1e-4) -> float:
    """Return a uniform draw in [0, 1) at least `margin` away from `threshold`."""
    while True:
        u = float(torch.rand((), generator=gen, dtype=torch.float64))
        if abs(u - threshold) > margin:
            return u


VERIFY_TOLERANCES = {
    "float64": Tolerance(1e-9, 1e-12),
    "float32": Tolerance(1e-4, 1e-6),
}


class SpeculativeVerifyDrill(Drill):
    """Speculative decoding's verification step, with its draws given."""

    id = "speculative_verify"
    title = "Speculative decoding: verify the draft"
    entry = "speculative_verify"
    signature = VERIFY_SIGNATURE
    docstring = VERIFY_DOCSTRING
    template = function_template("speculative_verify", VERIFY_SIGNATURE, VERIFY_DOCSTRING)
    reference_impl = staticmethod(speculative_verify)
    reference_imports = ("import torch",)
    tolerances = VERIFY_TOLERANCES
    bank_questions = (477,)
    public_cases = (
        Case("four_drafts", {"k": 4, "vocab": 10, "close": 0.6}),
        Case("same_models", {"k": 3, "vocab": 8, "close": 1.0}),
    )
    secret_cases = (
        Case("far_models", {"k": 5, "vocab": 20, "close": 0.0}),
        Case("one_draft", {"k": 1, "vocab": 7, "close": 0.5}),
        Case("impossible_tokens", {"k": 6, "vocab": 16, "close": 0.3, "sparse": 0.5}),
        Case("long_draft", {"k": 12, "vocab": 50, "close": 0.8}),
        Case("large_vocab", {"k": 4, "vocab": 1000, "close": 0.7}),
    )
    bench_cases = (Case("bench_k8_vocab_32k", {"k": 8, "vocab": 32_000, "close": 0.9}),)

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Sample draft tokens from the draft model and draws kept clear of the thresholds."""
        p = case.params
        gen = torch_generator(self.id, case, seed)
        k, vocab = int(p["k"]), int(p["vocab"])
        p_draft, p_target = draft_and_target(
            gen, k + 1, vocab, close=float(p["close"]), sparse=float(p.get("sparse", 0.0))
        )
        p_draft, p_target = p_draft.to(torch.float32), p_target.to(torch.float32)
        p_draft = p_draft[:k] / p_draft[:k].sum(-1, keepdim=True)
        p_target = p_target / p_target.sum(-1, keepdim=True)
        tokens = torch.multinomial(p_draft.to(torch.float64), 1, generator=gen).squeeze(-1)
        u = [
            uniform_away_from(gen, float(p_target[i, t]) / float(p_draft[i, t]))
            for i, t in enumerate(tokens.tolist())
        ]
        args = (tokens, p_draft, p_target, torch.tensor(u, dtype=torch.float32))
        return FunctionCall(tuple(a.to(device) for a in args), {})

    def output_name(self) -> str:
        """Name the pair in messages."""
        return "(n_accepted, next_dist)"


VERIFY = SpeculativeVerifyDrill()


DECODE_SIGNATURE = (
    "def speculative_decode(\n"
    "    last_token: int,\n"
    "    draft_probs: torch.Tensor,\n"
    "    target_probs: torch.Tensor,\n"
    "    k: int,\n"
    "    n_new: int,\n"
    "    u: torch.Tensor,\n"
    ") -> tuple[list[int], int]"
)
DECODE_DOCSTRING = """\
Generate `n_new` tokens by speculative decoding; return (tokens, target_passes).

The two models are bigram tables: the next-token distribution after token t is
draft_probs[t] for the draft model and target_probs[t] for the target model, both
(vocab, vocab) float64. Generation continues after `last_token`. To sample from
a distribution p with a uniform draw w, take the smallest token j whose
cumulative probability p[0] + ... + p[j] exceeds w (the last token if rounding
leaves none). Round r uses the draws u[r] (u is (rounds, 2k + 1)):

1. Draft k tokens autoregressively from the draft model with u[r, 0..k-1].
2. One target pass scores all k + 1 positions: position i is predicted from the
   token before it (the round's starting token for i = 0, draft token i-1 after).
3. Accept draft token i = t, left to right, while u[r, k + i] <= min(1,
   p_target_i[t] / p_draft_i[t]); stop at the first rejection.
4. Sample one more token with u[r, 2k]: from the residual max(0, p_target_i -
   p_draft_i), renormalised, after a rejection at i; from the target's
   distribution at position k (the bonus token) when all k were accepted.

Each round appends its accepted tokens and that one more token. Stop after the
round in which the output reaches n_new tokens and return the first n_new, with
the number of rounds (target passes) run. Draws never land within 1e-4 of an
acceptance threshold."""


def sample_with(p: torch.Tensor, w: float) -> int:
    """Return the smallest token whose cumulative probability exceeds `w`."""
    above = (torch.cumsum(p, 0) > w).nonzero()
    return int(above[0]) if len(above) else p.shape[0] - 1


def speculative_decode(
    last_token: int,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    k: int,
    n_new: int,
    u: torch.Tensor,
) -> tuple[list[int], int]:
    """Draft k, verify against one target pass, keep the accepted ones and one more token."""
    out: list[int] = []
    rounds = 0
    while len(out) < n_new:
        draws = u[rounds].tolist()
        rounds += 1
        context = [out[-1] if out else last_token]
        drafts: list[int] = []
        for i in range(k):
            drafts.append(sample_with(draft_probs[context[-1]], draws[i]))
            context.append(drafts[-1])
        p_draft = torch.stack([draft_probs[t] for t in context[:k]])
        p_target = torch.stack([target_probs[t] for t in context])
        n_ok, next_dist = speculative_verify(
            torch.tensor(drafts, dtype=torch.int64), p_draft, p_target, u[rounds - 1, k : 2 * k]
        )
        out += drafts[:n_ok] + [sample_with(next_dist, draws[2 * k])]
    return out[:n_new], rounds


class SpeculativeDecodeDrill(Drill):
    """The draft-then-verify loop of speculative decoding on bigram models."""

    id = "speculative_decode"
    title = "Speculative decoding: the draft-then-verify loop"
    entry = "speculative_decode"
    signature = DECODE_SIGNATURE
    docstring = DECODE_DOCSTRING
    template = function_template("speculative_decode", DECODE_SIGNATURE, DECODE_DOCSTRING)
    reference_impl = staticmethod(speculative_decode)
    reference_helpers = (speculative_verify, sample_with)
    reference_imports = ("import torch",)
    upcast_reference = False
    bank_questions = (504,)
    public_cases = (
        Case("k2", {"k": 2, "vocab": 6, "n_new": 10, "close": 0.6}),
        Case("k4_same_models", {"k": 4, "vocab": 8, "n_new": 13, "close": 1.0}),
    )
    secret_cases = (
        Case("k1", {"k": 1, "vocab": 5, "n_new": 12, "close": 0.4}),
        Case("far_models", {"k": 3, "vocab": 12, "n_new": 30, "close": 0.0}),
        Case("impossible_tokens", {"k": 4, "vocab": 10, "n_new": 30, "close": 0.3, "sparse": 0.5}),
        Case("long", {"k": 5, "vocab": 30, "n_new": 60, "close": 0.8}),
    )
    bench_cases = (Case("bench_k4_500_tokens", {"k": 4, "vocab": 200, "n_new": 500, "close": 0.8}),)

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded bigram models and enough draws, kept clear of acceptance thresholds
        along the path the reference takes."""
        p = case.params
        gen = torch_generator(self.id, case, seed)
        k, vocab, n_new = int(p["k"]), int(p["vocab"]), int(p["n_new"])
        draft, target = draft_and_target(
            gen, vocab, vocab, close=float(p["close"]), sparse=float(p.get("sparse", 0.0))
        )
        last = int(torch.randint(vocab, (), generator=gen))
        u = torch.rand(n_new, 2 * k + 1, generator=gen, dtype=torch.float64)
        # Move any acceptance draw that sits near its threshold on the reference's path.
        for _ in range(n_new):
            near = self._near_threshold(last, draft, target, k, n_new, u)
            if near is None:
                break
            u[near] = uniform_away_from(gen, float(u[near]), margin=2e-4)
        args = (last, draft.to(device), target.to(device), k, n_new, u.to(device))
        return FunctionCall(args, {})

    @staticmethod
    def _near_threshold(
        last: int, draft: torch.Tensor, target: torch.Tensor, k: int, n_new: int, u: torch.Tensor
    ) -> tuple[int, int] | None:
        out: list[int] = []
        r = 0
        while len(out) < n_new:
            ctx = [out[-1] if out else last]
            for i in range(k):
                ctx.append(sample_with(draft[ctx[-1]], float(u[r, i])))
            n_ok = k
            for i in range(k):
                t = ctx[i + 1]
                ratio = float(target[ctx[i], t]) / float(draft[ctx[i], t])
                if abs(float(u[r, k + i]) - ratio) <= 1e-4:
                    return (r, k + i)
                if float(u[r, k + i]) > ratio:
                    n_ok = i
                    break
            out += ctx[1 : n_ok + 1] + [0]
            r += 1
        return None

    def output_name(self) -> str:
        """Name the pair in messages."""
        return "(tokens, target_passes)"


DECODE = SpeculativeDecodeDrill()
