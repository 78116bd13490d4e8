"""Mistake: compares letter counts only, ignoring order."""

# expect: case not_interleaved .*returned True, expected False

from collections import Counter


def is_interleave(s1, s2, s3):
    return Counter(s1) + Counter(s2) == Counter(s3)
