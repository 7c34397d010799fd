"""Test simulator: waits until the file named by $SIMJOBS_TEST_GATE exists, then writes
the first coordinate. Records its pid in ./sim_pid first."""
import os
import sys
import time

with open("sim_pid.tmp", "w") as f:
    f.write(str(os.getpid()))
os.replace("sim_pid.tmp", "sim_pid")
gate = os.environ["SIMJOBS_TEST_GATE"]
deadline = time.monotonic() + 120
while not os.path.exists(gate) and time.monotonic() < deadline:
    time.sleep(0.01)
with open(sys.argv[1]) as f:
    x0 = float(f.read().strip().split(",")[0])
with open(sys.argv[2], "w") as f:
    f.write(repr(x0) + "\n")
