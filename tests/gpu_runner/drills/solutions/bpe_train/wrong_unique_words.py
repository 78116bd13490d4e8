"""Mistake: counts pairs over the distinct words, ignoring how often each occurs."""

# expect: merge \d+ is .* occurs \d+ times

from collections import Counter


def train_bpe(words, n_merges):
    corpus = Counter(tuple(w) for w in words)
    merges = []
    for _ in range(n_merges):
        pairs = Counter()
        for s in corpus:
            for p in zip(s, s[1:], strict=False):
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
