"""Mistake: counts the pairs once and takes the n most frequent, never recounting after a merge."""

# expect: merge \d+ is

from collections import Counter


def train_bpe(words, n_merges):
    corpus = Counter(tuple(w) for w in words)
    merges = []
    pairs = Counter()
    for s, f in corpus.items():
        for p in zip(s, s[1:], strict=False):
            pairs[p] += f
    for _ in range(n_merges):
        pairs = Counter({p: c for p, c in pairs.items() if p not in merges})
        if not pairs:
            break
        a, b = pairs.most_common(1)[0][0]
        merges.append((a, b))
        new = Counter()
        for s, f in corpus.items():
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            new[tuple(out)] += f
        corpus = new
    return merges
