"""Correct: a mask per DFA state, built once and cached; torch.where to apply it."""

import torch


def constrained_decode(logits, vocab, eos_id, transitions, start, accepting):
    cache = {}

    def end_state(state, text):
        for ch in text:
            if ch not in transitions[state]:
                return -1
            state = transitions[state][ch]
        return state

    def mask(state):
        if state not in cache:
            ends = [end_state(state, t) for t in vocab]
            ok = torch.tensor([e >= 0 for e in ends])
            ok[eos_id] = state in set(accepting)
            cache[state] = (ok, ends)
        return cache[state]

    state, out = start, []
    for row in logits:
        ok, ends = mask(state)
        tok = int(torch.argmax(torch.where(ok, row, torch.tensor(float("-inf")))))
        out.append(tok)
        if tok == eos_id:
            return out
        state = ends[tok]
    return out
