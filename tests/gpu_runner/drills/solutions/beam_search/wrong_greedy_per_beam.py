"""Mistake: each beam keeps only its own best extension, so the beam never widens."""

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
            tok = max(range(len(row)), key=row.__getitem__)
            cands.append((score + row[tok], seq + [tok]))
        cands.sort(key=lambda c: -c[0])
        beams = cands[:beam_width]
        if all(s[-1] == eos for _, s in beams):
            break
    return max(beams, key=lambda c: c[0] / len(c[1]))[1]
