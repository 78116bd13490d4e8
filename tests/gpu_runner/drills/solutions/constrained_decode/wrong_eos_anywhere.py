"""Mistake: never masks eos, so the output can stop mid-structure."""

# expect: step \d+ \(after .*\) chose|raised TypeError


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
                ok = True
            else:
                ok = walk(state, text) is not None
            if ok and row[i] > best_score:
                best, best_score = i, row[i]
        out.append(best)
        if best == eos_id:
            break
        state = walk(state, vocab[best])
    return out
