"""Drill `beam_search`: beam search over a bigram language model, with length normalisation."""

from __future__ import annotations

import torch

from gpu_runner.calling import FunctionCall, Trace
from gpu_runner.drills.base import Case, Drill, function_template, torch_generator

SIGNATURE = (
    "def beam_search(\n"
    "    log_probs: torch.Tensor, bos: int, eos: int, beam_width: int, max_len: int\n"
    ") -> list[int]"
)
DOCSTRING = """\
Return the best sequence beam search finds in a bigram language model.

log_probs[a, b] (float64, (vocab, vocab)) is log P(next token = b | last = a).
Beams start as [bos] with score 0 (bos is not part of the output). At each of at
most max_len steps, the candidates are every unfinished beam extended by every
token (score += log_probs[last, token]) plus the finished beams, unchanged; keep
the beam_width best by score. A beam is finished once it ends with eos. Stop
when every kept beam is finished or after max_len steps. Return the tokens
(without bos, with the eos if there is one) of the kept beam with the best
length-normalised score, score / number of tokens.

Ties may be broken any way you like: judged by the normalised score of the
sequence you return (it must equal the best one beam search reaches) and by the
sequence being one the model can produce (eos only at the end, at most max_len
tokens), not token by token."""


def beam_search(
    log_probs: torch.Tensor, bos: int, eos: int, beam_width: int, max_len: int
) -> list[int]:
    """Keep the top beam_width of (finished beams + all one-token extensions) each step."""
    beams: list[tuple[float, list[int]]] = [(0.0, [])]
    for _ in range(max_len):
        candidates: list[tuple[float, list[int]]] = []
        for score, seq in beams:
            if seq and seq[-1] == eos:
                candidates.append((score, seq))
                continue
            row = log_probs[seq[-1] if seq else bos].tolist()
            candidates += [(score + lp, [*seq, tok]) for tok, lp in enumerate(row)]
        candidates.sort(key=lambda c: c[0], reverse=True)
        beams = candidates[:beam_width]
        if all(seq[-1] == eos for _, seq in beams):
            break
    return max(beams, key=lambda c: c[0] / len(c[1]))[1]


def sequence_score(log_probs: torch.Tensor, bos: int, seq: list[int]) -> float:
    """Return the total log-probability of `seq` after bos, added left to right."""
    score, last = 0.0, bos
    for tok in seq:
        score += float(log_probs[last, tok])
        last = tok
    return score


class BeamSearchDrill(Drill):
    """Beam search judged by the normalised score it reaches, any tie-breaking."""

    id = "beam_search"
    title = "Beam search decoder"
    entry = "beam_search"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = function_template("beam_search", SIGNATURE, DOCSTRING)
    reference_impl = staticmethod(beam_search)
    reference_imports = ("import torch",)
    upcast_reference = False
    bank_questions = (482,)
    public_cases = (
        Case("small", {"vocab": 5, "width": 2, "max_len": 4, "eos_bias": 0.5}),
        Case("wider", {"vocab": 8, "width": 3, "max_len": 6, "eos_bias": 0.0}),
    )
    secret_cases = (
        Case("width_one_is_greedy", {"vocab": 10, "width": 1, "max_len": 8, "eos_bias": 0.3}),
        Case("early_eos", {"vocab": 12, "width": 4, "max_len": 10, "eos_bias": 1.5}),
        Case("no_eos_in_reach", {"vocab": 6, "width": 3, "max_len": 5, "eos_bias": -6.0}),
        Case("twin_tokens", {"vocab": 9, "width": 3, "max_len": 7, "eos_bias": 0.5, "twins": 3}),
        Case("sharp", {"vocab": 15, "width": 5, "max_len": 12, "eos_bias": 0.2, "sharp": 3.0}),
        Case("wide_beam", {"vocab": 20, "width": 10, "max_len": 10, "eos_bias": 0.8, "twins": 2}),
    )
    bench_cases = (
        Case("bench_vocab_200_width_8", {"vocab": 200, "width": 8, "max_len": 40, "eos_bias": 0.0}),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return a random bigram model; `twins` tokens are exact copies of others (ties)."""
        p = case.params
        gen = torch_generator(self.id, case, seed)
        vocab = int(p["vocab"])
        logits = torch.randn(vocab, vocab, generator=gen, dtype=torch.float64)
        logits *= float(p.get("sharp", 1.0))
        eos = int(torch.randint(vocab, (), generator=gen))
        bos = (eos + 1 + int(torch.randint(vocab - 1, (), generator=gen))) % vocab
        logits[:, eos] += float(p["eos_bias"])
        others = [t for t in range(vocab) if t not in (eos, bos)]
        for i in range(int(p.get("twins", 0))):
            a, b = others[2 * i], others[2 * i + 1]
            logits[:, b] = logits[:, a]
            logits[b] = logits[a]
        log_probs = torch.log_softmax(logits, dim=-1)
        args = (log_probs.to(device), bos, eos, int(p["width"]), int(p["max_len"]))
        return FunctionCall(args, {})

    def compare(
        self,
        case: Case,
        got: object,
        expected: object,
        inputs: FunctionCall | Trace | None = None,
    ) -> str | None:
        """Check the sequence is producible and reaches the best normalised score."""
        assert isinstance(inputs, FunctionCall) and isinstance(expected, list)
        log_probs, bos, eos, _, max_len = inputs.args
        log_probs = log_probs.cpu()
        if not isinstance(got, list | tuple) or not all(
            isinstance(t, int) and not isinstance(t, bool) for t in got
        ):
            return f"output should be a list of int token ids, got {got!r}"
        seq = list(got)
        vocab = log_probs.shape[0]
        if not seq or len(seq) > max_len:
            return f"output has {len(seq)} tokens; expected 1 to max_len = {max_len}"
        if any(not 0 <= t < vocab for t in seq):
            return f"output {seq} holds a token outside 0..{vocab - 1}"
        if eos in seq[:-1]:
            return f"output {seq} goes on after eos ({eos}): a finished beam is not extended"
        got_norm = sequence_score(log_probs, bos, seq) / len(seq)
        best_norm = sequence_score(log_probs, bos, expected) / len(expected)
        if abs(got_norm - best_norm) <= 1e-9 * max(1.0, abs(best_norm)):
            return None
        return (
            f"output {seq} scores {got_norm:.6f} per token, but beam search reaches "
            f"{expected} at {best_norm:.6f} per token"
        )


DRILL = BeamSearchDrill()
