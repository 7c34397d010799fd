"""Test simulator: records how many runs are in progress at once.

Each run creates a file in $SIMJOBS_TEST_CONC_DIR/running, counts the files there and
appends that count to $SIMJOBS_TEST_CONC_DIR/seen, holds on briefly, then removes its
file. If k runs ever overlap, the last of them to start sees at least k files.
"""
import os
import sys
import time

base = os.environ["SIMJOBS_TEST_CONC_DIR"]
running = os.path.join(base, "running")
os.makedirs(running, exist_ok=True)
mine = os.path.join(running, str(os.getpid()))
open(mine, "w").close()
count = len(os.listdir(running))
with open(os.path.join(base, "seen"), "a") as f:
    f.write(f"{count}\n")
time.sleep(0.2)  # the simulator's own work, not test synchronisation
os.remove(mine)
with open(sys.argv[2], "w") as f:
    f.write("1.0\n")
