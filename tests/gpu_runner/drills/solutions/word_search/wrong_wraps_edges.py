"""Mistake: neighbours wrap around the board's edges."""

# expect: case (absent|reused_cell|across_the_edge) .*returned True, expected False for word


def exist(board, word):
    rows, cols = len(board), len(board[0])
    seen = set()

    def dfs(r, c, i):
        if board[r][c] != word[i] or (r, c) in seen:
            return False
        if i == len(word) - 1:
            return True
        seen.add((r, c))
        for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
            nr, nc = (r + dr) % rows, (c + dc) % cols
            if 0 <= nr < rows and 0 <= nc < cols and dfs(nr, nc, i + 1):
                return True
        seen.discard((r, c))
        return False

    return any(dfs(r, c, 0) for r in range(rows) for c in range(cols))
