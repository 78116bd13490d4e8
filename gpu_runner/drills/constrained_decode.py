"""Drill `constrained_decode`: greedy decoding masked by a grammar's DFA."""

from __future__ import annotations

import torch

from gpu_runner.calling import FunctionCall, Trace
from gpu_runner.drills.base import Case, Drill, function_template, torch_generator

SIGNATURE = (
    "def constrained_decode(\n"
    "    logits: torch.Tensor,\n"
    "    vocab: list[str],\n"
    "    eos_id: int,\n"
    "    transitions: list[dict[str, int]],\n"
    "    start: int,\n"
    "    accepting: list[int],\n"
    ") -> list[int]"
)
DOCSTRING = """\
Decode greedily under a grammar; return the chosen token ids.

The grammar is a DFA over characters: transitions[s][c] is the state after
reading character c in state s (no entry: c is not allowed there); `start` is
the first state and `accepting` the states where the output may end. Every
state can still reach an accepting one. vocab[i] is token i's text (tokens may
hold several characters); vocab[eos_id] is the end-of-sequence token.

At step t, a token is allowed when reading all its characters from the current
state stays inside the DFA; eos is allowed only in an accepting state. Set the
logits of the other tokens to -inf, take the argmax of logits[t], append it,
and move the DFA through the token's characters. Stop after eos or after
logits.shape[0] steps. The model's logits (steps, vocab) are given up front and
do not depend on what was chosen."""


def constrained_decode(
    logits: torch.Tensor,
    vocab: list[str],
    eos_id: int,
    transitions: list[dict[str, int]],
    start: int,
    accepting: list[int],
) -> list[int]:
    """Walk the DFA over each token's characters to build the mask at each step."""

    def walk(state: int, text: str) -> int | None:
        for ch in text:
            nxt = transitions[state].get(ch)
            if nxt is None:
                return None
            state = nxt
        return state

    out: list[int] = []
    state = start
    for t in range(logits.shape[0]):
        allowed = torch.tensor(
            [
                state in accepting if i == eos_id else walk(state, text) is not None
                for i, text in enumerate(vocab)
            ]
        )
        tok = int(logits[t].masked_fill(~allowed, float("-inf")).argmax())
        out.append(tok)
        if tok == eos_id:
            break
        state = walk(state, vocab[tok])  # type: ignore[assignment]
    return out


def _dfa(edges: dict[int, dict[str, int]], n: int) -> list[dict[str, int]]:
    return [dict(edges.get(s, {})) for s in range(n)]


DIGITS = "0123"
# (transitions, start, accepting, alphabet)
GRAMMARS: dict[str, tuple[list[dict[str, int]], int, list[int], str]] = {
    # \[(\d(,\d)*)?\]  with digits 0-3
    "int_list": (
        _dfa(
            {
                0: {"[": 1},
                1: {"]": 4, **{d: 2 for d in DIGITS}},
                2: {",": 3, "]": 4, **{d: 2 for d in DIGITS}},
                3: {d: 2 for d in DIGITS},
            },
            5,
        ),
        0,
        [4],
        "[],0123",
    ),
    # -?\d+(\.\d+)?
    "number": (
        _dfa(
            {
                0: {"-": 1, **{d: 2 for d in DIGITS}},
                1: {d: 2 for d in DIGITS},
                2: {".": 3, **{d: 2 for d in DIGITS}},
                3: {d: 4 for d in DIGITS},
                4: {d: 4 for d in DIGITS},
            },
            5,
        ),
        0,
        [2, 4],
        "-.0123",
    ),
    # yes|no|maybe
    "choice": (
        _dfa(
            {
                0: {"y": 1, "n": 4, "m": 6},
                1: {"e": 2},
                2: {"s": 3},
                4: {"o": 5},
                6: {"a": 7},
                7: {"y": 8},
                8: {"b": 9},
                9: {"e": 10},
            },
            11,
        ),
        0,
        [3, 5, 10],
        "yesnomab",
    ),
    # {"[ab]+":[01]+(,"[ab]+":[01]+)*}
    "object": (
        _dfa(
            {
                0: {"{": 1},
                1: {'"': 2},
                2: {"a": 3, "b": 3},
                3: {"a": 3, "b": 3, '"': 4},
                4: {":": 5},
                5: {"0": 6, "1": 6},
                6: {"0": 6, "1": 6, ",": 1, "}": 7},
            },
            8,
        ),
        0,
        [7],
        '{}":,ab01',
    ),
}


class ConstrainedDecodeDrill(Drill):
    """Grammar-constrained greedy decoding over multi-character tokens."""

    id = "constrained_decode"
    title = "Grammar-constrained decoder"
    entry = "constrained_decode"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = function_template("constrained_decode", SIGNATURE, DOCSTRING)
    reference_impl = staticmethod(constrained_decode)
    reference_imports = ("import torch",)
    upcast_reference = False
    bank_questions = (486,)
    public_cases = (
        Case("int_list", {"grammar": "int_list", "steps": 12, "multi": 6}),
        Case("number", {"grammar": "number", "steps": 10, "multi": 6}),
    )
    secret_cases = (
        Case("choice_words", {"grammar": "choice", "steps": 8, "multi": 10, "eos_bias": 2.0}),
        Case("object", {"grammar": "object", "steps": 30, "multi": 20}),
        Case("tempting_junk", {"grammar": "object", "steps": 25, "multi": 15, "junk_bias": 4.0}),
        Case("eager_eos", {"grammar": "int_list", "steps": 20, "multi": 10, "eos_bias": 3.0}),
        Case("long_tokens", {"grammar": "number", "steps": 15, "multi": 30, "long": 1}),
    )
    bench_cases = (
        Case("bench_vocab_1000", {"grammar": "object", "steps": 100, "multi": 1000, "long": 1}),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return a vocabulary (every single character, random multi-character tokens, junk
        outside the alphabet, eos) and seeded logits."""
        p = case.params
        gen = torch_generator(self.id, case, seed)
        transitions, start, accepting, alphabet = GRAMMARS[str(p["grammar"])]
        vocab: list[str] = list(alphabet)
        longest = 6 if p.get("long") else 3
        # Enough distinct tokens exist: the alphabets have 5 or more characters, so there are
        # over a thousand strings of 2 to 6 of them (and over a hundred of 2 to 3).
        while len(vocab) < len(alphabet) + int(p["multi"]):
            n = int(torch.randint(2, longest + 1, (), generator=gen))
            chars = torch.randint(len(alphabet), (n,), generator=gen).tolist()
            token = "".join(alphabet[c] for c in chars)
            if token not in vocab:
                vocab.append(token)
        junk = ["x", "zz", "hello", " ", "\n"]
        vocab += junk
        eos_id = int(torch.randint(len(vocab) + 1, (), generator=gen))
        vocab.insert(eos_id, "</s>")
        order = torch.randperm(len(vocab), generator=gen).tolist()
        vocab = [vocab[i] for i in order]
        eos_id = order.index(eos_id)
        logits = torch.randn(int(p["steps"]), len(vocab), generator=gen) * 2
        logits[:, eos_id] += float(p.get("eos_bias", 0.0))
        for i, text in enumerate(vocab):
            if text in junk:
                logits[:, i] += float(p.get("junk_bias", 0.0))
        args = (logits.to(device), vocab, eos_id, transitions, start, accepting)
        return FunctionCall(args, {})

    def compare(
        self,
        case: Case,
        got: object,
        expected: object,
        inputs: FunctionCall | Trace | None = None,
    ) -> str | None:
        """Name the first step that differs and show both outputs as text."""
        assert isinstance(inputs, FunctionCall) and isinstance(expected, list)
        vocab = inputs.args[1]
        if not isinstance(got, list | tuple) or not all(
            isinstance(t, int) and not isinstance(t, bool) and 0 <= t < len(vocab) for t in got
        ):
            return f"output should be a list of token ids (ints below {len(vocab)}), got {got!r}"
        if list(got) == expected:
            return None
        step = next(
            (i for i, (g, e) in enumerate(zip(got, expected, strict=False)) if g != e),
            min(len(got), len(expected)),
        )

        def text(ids: list[int]) -> str:
            return "".join(vocab[i] for i in ids)

        chosen = f"token {got[step]} {vocab[got[step]]!r}" if step < len(got) else "nothing"
        wanted = (
            f"token {expected[step]} {vocab[expected[step]]!r}"
            if step < len(expected)
            else "nothing"
        )
        return (
            f"step {step} (after {text(expected[:step])!r}) chose {chosen}, expected {wanted}; "
            f"the output reads {text(list(got))!r}, expected {text(expected)!r}"
        )


DRILL = ConstrainedDecodeDrill()
