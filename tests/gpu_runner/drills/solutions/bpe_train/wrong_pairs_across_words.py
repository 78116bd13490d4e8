"""Mistake: counts pairs over the whole corpus joined into one string, across word boundaries."""

# expect: merge \d+ is

from collections import Counter


def train_bpe(words, n_merges):
    corpus = Counter(tuple(w) for w in words)
    merges = []
    for _ in range(n_merges):
        pairs = Counter()
        flat = [sym for s, f in corpus.items() for _ in range(f) for sym in s]
        for p in zip(flat, flat[1:], strict=False):
            pairs[p] += 1
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
