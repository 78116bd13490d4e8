# Prints without end.
import sys

while True:
    sys.stdout.write("flood " * 2000 + "\n")
