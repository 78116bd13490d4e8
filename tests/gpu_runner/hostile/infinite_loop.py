# Never returns, burning CPU.
def total(values):
    n = 0
    while True:
        n += 1
