"""Correct: iterative DFS over (cell, index, path) with a path set."""


def exist(board, word):
    rows, cols = len(board), len(board[0])
    for r0 in range(rows):
        for c0 in range(cols):
            if board[r0][c0] != word[0]:
                continue
            stack = [(r0, c0, 0, frozenset([(r0, c0)]))]
            while stack:
                r, c, i, path = stack.pop()
                if i == len(word) - 1:
                    return True
                for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                    nr, nc = r + dr, c + dc
                    if (
                        0 <= nr < rows
                        and 0 <= nc < cols
                        and (nr, nc) not in path
                        and board[nr][nc] == word[i + 1]
                    ):
                        stack.append((nr, nc, i + 1, path | {(nr, nc)}))
    return False
