"""The manager process of the crash test: submits the 300 inputs that are not in the
log yet (in chunks, so kills also land between submits) and runs until all end."""

import os
import random
import sys

from simjobs import Input, JobManager, SimulationsLog
from simjobs.interfaces import LocalInterface

workdir, store, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(7)
inputs = [Input(round(rng.random(), 6), round(rng.random(), 6)) for _ in range(n)]
log = SimulationsLog(os.path.join(workdir, f"runs.{store}"), 2)
sim = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "counting_sim.py")]
interfaces = [
    LocalInterface("local-a", 1, sim, os.path.join(workdir, "ws-a"), max_jobs=6),
    LocalInterface("local-b", 1, sim, os.path.join(workdir, "ws-b"), max_jobs=6),
]
manager = JobManager(log, interfaces, polling_interval=0.05)
done = {r["input"] for r in log.get_records()}
todo = [x for x in inputs if x not in done]
for start in range(0, len(todo), 25):
    manager.submit_many(todo[start:start + 25])
    print("submitted", start + 25, flush=True)
manager.wait_until_done()
manager.shutdown()
log.close()
print("all done", flush=True)
