"""Mistake: merges with str.replace on space-joined symbols, which also fires inside symbols
("a b" matches the end of "ca b")."""

# expect: merge \d+ is

from collections import Counter


def train_bpe(words, n_merges):
    corpus = Counter(" ".join(w) for w in words)
    merges = []
    for _ in range(n_merges):
        pairs = Counter()
        for s, f in corpus.items():
            sym = s.split(" ")
            for p in zip(sym, sym[1:], strict=False):
                pairs[p] += f
        if not pairs:
            break
        a, b = pairs.most_common(1)[0][0]
        merges.append((a, b))
        new = Counter()
        for s, f in corpus.items():
            new[s.replace(f"{a} {b}", a + b)] += f
        corpus = new
    return merges
