"""Mistake: checks only a token's first character."""

# expect: step \d+ \(after .*\) chose


def constrained_decode(logits, vocab, eos_id, transitions, start, accepting):
    def walk(state, text):
        for ch in text:
            if ch not in transitions[state]:
                return None
            state = transitions[state][ch]
        return state

    out, state = [], start
    for row in logits.tolist():
        best, best_score = None, float("-inf")
        for i, text in enumerate(vocab):
            if i == eos_id:
                ok = state in accepting
            else:
                ok = walk(state, text[:1]) is not None
            if ok and row[i] > best_score:
                best, best_score = i, row[i]
        out.append(best)
        if best == eos_id:
            break
        nxt = walk(state, vocab[best])
        state = state if nxt is None else nxt
    return out
