"""Correct: memoised recursion over (i, j)."""

from functools import cache


def is_interleave(s1, s2, s3):
    if len(s1) + len(s2) != len(s3):
        return False

    @cache
    def go(i, j):
        if i == len(s1) and j == len(s2):
            return True
        k = i + j
        if i < len(s1) and s1[i] == s3[k] and go(i + 1, j):
            return True
        return j < len(s2) and s2[j] == s3[k] and go(i, j + 1)

    return go(0, 0)
