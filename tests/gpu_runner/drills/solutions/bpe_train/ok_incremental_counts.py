"""Correct: incremental pair counts with a word index; ties go to the lexicographically largest."""

from collections import Counter, defaultdict


def train_bpe(words, n_merges):
    freq = Counter(words)
    segs = {w: list(w) for w in freq}
    pairs = Counter()
    where = defaultdict(set)
    for w, f in freq.items():
        s = segs[w]
        for x, y in zip(s, s[1:], strict=False):
            pairs[(x, y)] += f
            where[(x, y)].add(w)
    merges = []
    while len(merges) < n_merges:
        live = [p for p, c in pairs.items() if c > 0]
        if not live:
            break
        top = max(pairs[p] for p in live)
        a, b = max(p for p in live if pairs[p] == top)
        merges.append((a, b))
        for w in list(where[(a, b)]):
            s, f = segs[w], freq[w]
            for x, y in zip(s, s[1:], strict=False):
                pairs[(x, y)] -= f
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            segs[w] = out
            for x, y in zip(out, out[1:], strict=False):
                pairs[(x, y)] += f
                where[(x, y)].add(w)
    return merges
