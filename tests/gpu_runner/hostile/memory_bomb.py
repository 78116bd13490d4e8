# Allocates and touches memory until something gives.
chunks = []
while True:
    chunks.append(b"x" * (32 << 20))


def total(values):
    return sum(values)
