"""Test simulator: writes the sum of the input's coordinates (full precision)."""
import sys

with open(sys.argv[1]) as f:
    coords = [float(v) for v in f.read().strip().split(",")]
with open(sys.argv[2], "w") as f:
    f.write(repr(sum(coords)) + "\n")
print("summed", len(coords), "coordinates")
