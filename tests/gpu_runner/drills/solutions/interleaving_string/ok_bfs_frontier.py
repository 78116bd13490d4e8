"""Correct: breadth-first over the reachable (i, j) pairs."""


def is_interleave(s1: str, s2: str, s3: str) -> bool:
    if len(s1) + len(s2) != len(s3):
        return False
    frontier = {(0, 0)}
    for ch in s3:
        nxt = set()
        for i, j in frontier:
            if i < len(s1) and s1[i] == ch:
                nxt.add((i + 1, j))
            if j < len(s2) and s2[j] == ch:
                nxt.add((i, j + 1))
        frontier = nxt
        if not frontier:
            return False
    return (len(s1), len(s2)) in frontier
