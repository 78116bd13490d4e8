"""Mistake: never checks len(s3) == len(s1) + len(s2)."""

# expect: case extra_character .*returned True, expected False


def is_interleave(s1, s2, s3):
    n, m = len(s1), len(s2)
    dp = [[False] * (m + 1) for _ in range(n + 1)]
    dp[0][0] = True
    for i in range(n + 1):
        for j in range(m + 1):
            if i + j == 0 or i + j > len(s3):
                continue
            ch = s3[i + j - 1]
            dp[i][j] = (i > 0 and dp[i - 1][j] and s1[i - 1] == ch) or (
                j > 0 and dp[i][j - 1] and s2[j - 1] == ch
            )
    return dp[n][m]
