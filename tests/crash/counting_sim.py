"""Test simulator for the crash test: counts its runs, then sums the coordinates.

Appends its job directory's name to the file named by $SIMJOBS_RUN_COUNTER (one
O_APPEND write, so concurrent runs never interleave) before doing any work.
"""

import os
import random
import sys
import time

input_file, output_file = sys.argv[1], sys.argv[2]
line = f"{os.path.basename(os.getcwd())}\n".encode()
fd = os.open(os.environ["SIMJOBS_RUN_COUNTER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
os.write(fd, line)
os.close(fd)
coords = [float(v) for v in open(input_file).read().strip().split(",")]
time.sleep(random.uniform(0.01, 0.15))
with open(output_file, "w") as f:
    f.write(repr(sum(coords)))
