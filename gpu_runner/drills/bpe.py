"""Drill `bpe_train`: the training loop of byte-pair encoding, judged merge by merge."""

from __future__ import annotations

from collections import Counter

from gpu_runner.calling import FunctionCall, Trace
from gpu_runner.drills.base import Case, Drill, function_template, python_rng

SIGNATURE = "def train_bpe(words: list[str], n_merges: int) -> list[tuple[str, str]]"

DOCSTRING = """\
Learn `n_merges` BPE merges from a corpus; return them in the order learnt.

`words` is the corpus split into words (a word that occurs 40 times is in the
list 40 times). Every word starts as its characters; pairs never span two words.
Each step counts every adjacent pair of symbols over the corpus, takes a most
frequent pair (a, b) (any of them when several tie), and replaces each
occurrence of a followed by b, left to right within a word, by the new symbol
a + b. Stop early when no word has two symbols left. Return the merges as
(a, b) tuples.

Judged merge by merge: each merge must be a most frequent pair of the corpus as
your earlier merges left it (ties broken any way you like; a run such as "aaa"
may count its pair twice or once), and there must be n_merges of them unless
the corpus ran out of pairs. Aim to update the counts incrementally (only the
pairs next to a merge change) rather than recounting the corpus each step."""


def _merge_word(symbols: tuple[str, ...], a: str, b: str) -> tuple[str, ...]:
    out: list[str] = []
    i = 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
            out.append(a + b)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return tuple(out)


def train_bpe(words: list[str], n_merges: int) -> list[tuple[str, str]]:
    """Count pairs over the distinct words weighted by frequency; merge the top pair."""
    corpus = Counter(tuple(w) for w in words)
    merges: list[tuple[str, str]] = []
    for _ in range(n_merges):
        pairs: Counter[tuple[str, str]] = Counter()
        for symbols, freq in corpus.items():
            for pair in zip(symbols, symbols[1:], strict=False):
                pairs[pair] += freq
        if not pairs:
            break
        a, b = max(pairs, key=lambda p: pairs[p])
        merges.append((a, b))
        merged: Counter[tuple[str, ...]] = Counter()
        for symbols, freq in corpus.items():
            merged[_merge_word(symbols, a, b)] += freq
        corpus = merged
    return merges


def pair_counts(corpus: Counter[tuple[str, ...]], *, overlapping: bool) -> Counter[tuple[str, str]]:
    """Count adjacent pairs; without `overlapping`, a run like a a a counts (a, a) once."""
    pairs: Counter[tuple[str, str]] = Counter()
    for symbols, freq in corpus.items():
        i = 0
        while i + 1 < len(symbols):
            pair = (symbols[i], symbols[i + 1])
            pairs[pair] += freq
            skip = (
                not overlapping
                and symbols[i] == symbols[i + 1]
                and i + 2 < len(symbols)
                and symbols[i + 2] == symbols[i]
            )
            i += 2 if skip else 1
    return pairs


class BPEDrill(Drill):
    """BPE training judged by replaying the member's merges on the corpus."""

    id = "bpe_train"
    title = "BPE training loop"
    entry = "train_bpe"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = function_template("bpe_train", SIGNATURE, DOCSTRING, imports=())
    needs_torch = False
    upcast_reference = False
    reference_impl = staticmethod(train_bpe)
    reference_helpers = (_merge_word,)
    reference_imports = ("from collections import Counter",)
    bank_questions = (471,)
    public_cases = (
        Case("tiny", {"distinct": 5, "occurrences": 20, "merges": 6, "alphabet": "abcd"}),
        Case("runs_out", {"distinct": 3, "occurrences": 6, "merges": 40, "alphabet": "ab"}),
    )
    secret_cases = (
        Case(
            "many_merges",
            {"distinct": 40, "occurrences": 300, "merges": 60, "alphabet": "abcdefgh"},
        ),
        Case(
            "repeated_letters",
            {"distinct": 20, "occurrences": 200, "merges": 30, "alphabet": "aab"},
        ),
        Case(
            "flat_counts",
            {"distinct": 30, "occurrences": 30, "merges": 25, "alphabet": "abcdefghij"},
        ),
        Case("unicode", {"distinct": 15, "occurrences": 120, "merges": 20, "alphabet": "éaß中b"}),
        Case(
            "zipf",
            {"distinct": 60, "occurrences": 600, "merges": 80, "alphabet": "etaoinshr", "zipf": 1},
        ),
    )
    bench_cases = (
        Case(
            "bench_4k_words",
            {
                "distinct": 400,
                "occurrences": 4000,
                "merges": 80,
                "alphabet": "etaoinshrdlucmfw",
                "zipf": 1,
            },
        ),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return a seeded corpus: distinct words drawn from the alphabet, repeated with skew."""
        p = case.params
        rng = python_rng(self.id, case, seed)
        alphabet = str(p["alphabet"])
        vocab: list[str] = []
        while len(vocab) < int(p["distinct"]):
            word = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9)))
            if word not in vocab:
                vocab.append(word)
        n = int(p["occurrences"])
        if p.get("zipf"):
            weights = [1 / (rank + 1) for rank in range(len(vocab))]
            words = rng.choices(vocab, weights=weights, k=n - len(vocab)) + vocab
        else:
            words = [vocab[i % len(vocab)] for i in range(n)]
            words += rng.choices(vocab, k=n // 3)
        rng.shuffle(words)
        return FunctionCall((words, int(p["merges"])), {})

    def compare(
        self,
        case: Case,
        got: object,
        expected: object,
        inputs: FunctionCall | Trace | None = None,
    ) -> str | None:
        """Replay the merges: each must be a most frequent pair at its step."""
        if not isinstance(got, list | tuple):
            return f"output should be a list of (a, b) merges, got {type(got).__name__}"
        assert isinstance(inputs, FunctionCall)
        words, n_merges = inputs.args
        corpus: Counter[tuple[str, ...]] = Counter(tuple(w) for w in words)
        for i, merge in enumerate(got):
            if (
                not isinstance(merge, tuple | list)
                or len(merge) != 2
                or not all(isinstance(s, str) for s in merge)
            ):
                return f"merge {i} is {merge!r}, expected a pair of strings (a, b)"
            if i >= n_merges:
                return f"returned {len(got)} merges, but n_merges is {n_merges}"
            a, b = merge
            both = [pair_counts(corpus, overlapping=o) for o in (True, False)]
            if not both[0]:
                return f"returned {len(got)} merges, but no pair was left after {i}"
            if not any(c[(a, b)] == max(c.values()) for c in both):
                best = max(both[0], key=lambda p: both[0][p])
                return (
                    f"merge {i} is {(a, b)!r}, which occurs {both[0][(a, b)]} times in the "
                    f"corpus as merges 0..{i - 1} left it, but {best!r} occurs "
                    f"{both[0][best]} times" + self._hint(i, got)
                )
            merged: Counter[tuple[str, ...]] = Counter()
            for symbols, freq in corpus.items():
                merged[_merge_word(symbols, a, b)] += freq
            corpus = merged
        if len(got) < n_merges and pair_counts(corpus, overlapping=True):
            return (
                f"returned {len(got)} merges for n_merges = {n_merges}, but pairs are left to merge"
            )
        return None

    @staticmethod
    def _hint(i: int, got: list[object] | tuple[object, ...]) -> str:
        earlier = ", ".join(repr(tuple(m)) for m in list(got)[max(0, i - 3) : i])  # type: ignore[arg-type]
        return f" (merges just before: {earlier})" if earlier else ""


DRILL = BPEDrill()
