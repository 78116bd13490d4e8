"""Correct: tensors all the way: finished beams get one -inf-free "stay" column, topk picks
the survivors (its own tie order), and scores are kept as a tensor."""

import torch


def beam_search(log_probs, bos, eos, beam_width, max_len):
    vocab = log_probs.shape[0]
    seqs = [[]]
    scores = torch.zeros(1, dtype=torch.float64)
    for _ in range(max_len):
        last = torch.tensor([s[-1] if s else bos for s in seqs])
        done = torch.tensor([bool(s) and s[-1] == eos for s in seqs])
        ext = scores[:, None] + log_probs[last]
        ext[done] = float("-inf")
        stay = torch.where(done, scores, torch.tensor(float("-inf"), dtype=torch.float64))
        flat = torch.cat([ext.reshape(-1), stay])
        k = min(beam_width, int(torch.isfinite(flat).sum()))
        top = torch.topk(flat, k).indices.tolist()
        new_seqs, new_scores = [], []
        for i in top:
            if i >= ext.numel():
                b = i - ext.numel()
                new_seqs.append(seqs[b])
                new_scores.append(float(stay[b]))
            else:
                b, tok = divmod(i, vocab)
                new_seqs.append([*seqs[b], tok])
                new_scores.append(float(ext[b, tok]))
        seqs, scores = new_seqs, torch.tensor(new_scores, dtype=torch.float64)
        if all(s[-1] == eos for s in seqs):
            break
    norm = scores / torch.tensor([len(s) for s in seqs], dtype=torch.float64)
    return seqs[int(norm.argmax())]
