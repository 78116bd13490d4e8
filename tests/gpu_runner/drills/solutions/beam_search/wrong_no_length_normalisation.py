"""Mistake: returns the best total log-probability, not normalised by length."""

# expect: per token, but beam search reaches


def beam_search(log_probs, bos, eos, beam_width, max_len):
    beams = [(0.0, [])]
    for _ in range(max_len):
        cands = []
        for score, seq in beams:
            if seq and seq[-1] == eos:
                cands.append((score, seq))
                continue
            row = log_probs[seq[-1] if seq else bos].tolist()
            for tok, lp in enumerate(row):
                cands.append((score + lp, seq + [tok]))
        cands.sort(key=lambda c: -c[0])
        beams = cands[:beam_width]
        if all(s[-1] == eos for _, s in beams):
            break
    return max(beams, key=lambda c: c[0])[1]
