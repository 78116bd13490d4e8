"""Mistake: also steps diagonally."""

# expect: case (absent|reused_cell|diagonal_only) .*returned True, expected False for word


def exist(board, word):
    rows, cols = len(board), len(board[0])
    seen = set()

    def dfs(r, c, i):
        if board[r][c] != word[i] or (r, c) in seen:
            return False
        if i == len(word) - 1:
            return True
        seen.add((r, c))
        for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)):
            nr, nc = r + dr, c + dc
            if 0 <= nr < rows and 0 <= nc < cols and dfs(nr, nc, i + 1):
                return True
        seen.discard((r, c))
        return False

    return any(dfs(r, c, 0) for r in range(rows) for c in range(cols))
