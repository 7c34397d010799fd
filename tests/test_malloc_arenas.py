"""The app's threads share two glibc malloc arenas (app.collector.limit_malloc_arenas):
counted in a real process with glibc's own report (malloc_info), with and without it."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from simjobs.app.collector import _glibc

pytestmark = pytest.mark.skipif(_glibc() is None, reason="not glibc: no malloc arenas to limit")

# Eight threads allocate (C-heap blocks: larger than Python's small-object allocator
# takes) at the same time, then glibc reports its heaps: one <heap nr=...> per arena.
PROGRAM = r"""
import ctypes, sys, threading
from simjobs.app.collector import limit_malloc_arenas
if sys.argv[1] == "limit":
    assert limit_malloc_arenas()
barrier = threading.Barrier(8)
def work():
    barrier.wait()
    blocks = [bytes(2000) for _ in range(2000)]
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
f = libc.fopen(sys.argv[2].encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(f))
libc.fclose(ctypes.c_void_p(f))
"""


def heaps(tmp_path, mode: str, **env) -> int:
    report = tmp_path / f"malloc-{mode}.xml"
    environ = {k: v for k, v in os.environ.items()
               if k not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES")}
    subprocess.run([sys.executable, "-c", PROGRAM, mode, str(report)], check=True,
                   env={**environ, **env}, timeout=60)
    return len(re.findall(r'<heap nr="\d+"', report.read_text()))


def test_the_apps_threads_share_two_arenas(tmp_path):
    assert heaps(tmp_path, "free") > 2  # glibc's own rule: an arena per thread, nearly
    assert heaps(tmp_path, "limit") <= 2


def test_a_users_own_arena_setting_stands(tmp_path):
    # MALLOC_ARENA_MAX=4 given: limit_malloc_arenas leaves it (and says so: False)
    out = subprocess.run(
        [sys.executable, "-c", "from simjobs.app.collector import limit_malloc_arenas as l;"
                               "print(l())"],
        env={**os.environ, "MALLOC_ARENA_MAX": "4"}, capture_output=True, text=True,
        check=True, timeout=60)
    assert out.stdout.strip() == "False"
    assert heaps(tmp_path, "free", MALLOC_ARENA_MAX="4") <= 4
