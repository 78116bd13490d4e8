# Never returns, burning no CPU at all: only a wall clock catches it.
import time


def total(values):
    time.sleep(10**6)
