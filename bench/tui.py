"""Benchmark of the app (``simjobs app``) in a real pseudo-terminal.

What it measures, and how
-------------------------
The real ``simjobs app`` runs as its own process on the slave side of a pty
(``os.openpty``, window size set with TIOCSWINSZ, TERM=xterm-256color, 256 colours).
A reader thread here reads every byte the app writes on the master side, counts them
with their arrival times, and feeds them to a small terminal emulator (cursor moves,
SGR background colours, text; enough for what Textual writes) so that the benchmark
can tell when the *screen* shows something, not merely that bytes arrived.

The event stream comes from a second process (``--writer``): it holds the log as its
writer and applies status changes to it, RATE per second (in batches every 0.1 s,
each one fsynced transaction, as a manager writes): active jobs move on one step,
Pending submit -> Submitted -> Running -> Completed (with an output). The app watches
that log (``simjobs app --watch LOG``): its watch backend refreshes the log and turns
what changed into the same job events a manager publishes, which the app coalesces
and applies. So the latency figures include the app's whole path from a key to the
terminal, while the app is also applying 500 changes a second.

Figures
  first paint    from starting ``simjobs app`` (a new Python process: interpreter and
                 imports included) to the first moment the screen shows the job table
                 with its rows and the job count, on a 100,000-record log; watched
                 (--watch) and managed (--config, the app owns a JobManager on it);
                 median of a few starts; also the first frame with any text (the app
                 paints an "opening" screen while it opens a big log) and the first
                 output byte.
  key latency    from writing a key to the pty to the moment the screen shows its
                 effect, under the event stream, p50 / p95 / max per kind:
                   cursor  j or k: the highlighted row is the next / previous job
                   sort    o: the info line names the next sort column (10,000 rows
                           re-sorted)
                   filter  a character typed in (or deleted from) the filter bar: the
                           info line shows the new filter text (the rows re-filtered)
                 and the same without the stream, for comparison.
  bytes/s        written to the terminal: idle (no events, no keys) with running jobs
                 on screen (their Elapsed clocks run) and with only
                 finished jobs on screen; under the event stream without keys.
  peak RSS       VmHWM of the app process at the end of a run.

Optional parts (flags; the default figures above keep their meaning)
  --load N       the whole run under N busy background processes (a pure-Python spin
                 each) that the benchmark starts before and stops after it; each also
                 stops by itself after --load-limit seconds (1800). The 1-minute load
                 average is sampled every 5 s and printed at the end (min, median,
                 max), with or without --load: on a shared machine it is what was seen.
                 The busy processes compete for the cores from their start; the 1-minute
                 average lags them by about a minute, so its first samples are lower.
                 Adds ~6 s (the processes start and the first sample is taken).
  --campaign N   a campaign of N jobs managed by the app (issue 11: N = 100000): a new
                 log and a config with one local interface (the demo simulator, cheap;
                 max_jobs 2, so nearly all of the campaign stays queued); the app is
                 started with --config; its submit form (s, ctrl+t Batch, the CSV path,
                 ctrl+s) submits a CSV file of N Latin-hypercube points made with
                 simjobs.design.latin_hypercube, which the form hands to the app's
                 JobManager (submit_many, in chunks). Figures: the submission's time
                 (ctrl+s until the form closes); cursor / sort / filter key latency
                 while the manager runs the campaign (2 running, the rest queued;
                 --seconds of keys); peak RSS; first paint on reopen of the campaign's
                 log with --config (--starts starts, the queued jobs resume).
                 --campaign-only skips the default figures. Takes about 1 minute at
                 N = 100000 on 2 cores (measured: under 65 s at load average ~1.5,
                 the submission ~10 s of it). --profile FILE runs the campaign's app
                 under cProfile (its main thread: the event loop) for where the time
                 goes; figures from such a run are inflated and not to be quoted.

Goals (issue 4): key p95 < 50 ms; first paint < 1 s on 100,000 records; peak RSS
< 300 MB; idle < 1 KB/s. Issue 11: the key goals with margin at load average ~2; the
100,000-job campaign: key p95 < 50 ms, first paint < 1 s on reopen, RSS < 400 MB.

Usage: python bench/tui.py [--jobs 10000] [--big 100000] [--rate 500] [--seconds 10]
                           [--size 120x35] [--dir DIR] [--load N]
                           [--campaign N [--campaign-only]]
The simjobs sources are byte-compiled before the first start (as installing does), so
that an editable install under PYTHONDONTWRITEBYTECODE does not recompile them at each.
A run takes about 3 minutes on 2 loaded cores: making the logs (~20 s for 100,000
records), 2 x --starts starts of the app on the big log, then on the small log: the
read-only notice (a 10 s toast) let go, 5 s idle with running jobs on screen, 5 s idle
with only finished ones (status filter Completed), 6 s of keys without events, then the
stream (--seconds + 6 s): 5 s of events alone, then --seconds of keys under events.
The load average is printed with the figures: on a shared machine, quote medians of
several runs.
"""

from __future__ import annotations

import argparse
import codecs
import fcntl
import os
import random
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from rich.cells import get_character_cell_size  # noqa: E402

from simjobs.app.model import COLUMNS  # noqa: E402
from simjobs.core.log import SimulationsLog  # noqa: E402
from simjobs.core.records import LogChange  # noqa: E402
from simjobs.core.types import JobStatus  # noqa: E402

FIRST_ID = 20260101000000000
INTERFACES = {1: ["quick-a", "quick-b"], 2: ["hpc"]}
NEXT = {JobStatus.PENDING_SUBMIT: JobStatus.SUBMITTED, JobStatus.SUBMITTED: JobStatus.RUNNING,
        JobStatus.RUNNING: JobStatus.COMPLETED}
ROW_RE = re.compile(r"[ ●]{0,3}(\d{17}) ")


# ---- logs ------------------------------------------------------------------------------------


def make_log(path: Path, n: int, *, active_fraction: float, seed: int = 1) -> None:
    """A log of ``n`` jobs in 2 dimensions, submitted evenly over the last 3 hours: the
    oldest finished (mostly Completed, with outputs; some Failed and Cancelled), the
    newest ``active_fraction`` still active (Pending submit, Submitted or Running), as a
    run in progress leaves it; the newest were submitted seconds ago, so their Elapsed
    column ticks. Built with the core API (add_new_records in chunks of 100 records
    submitted at the same moment, apply_changes in batches of 10,000)."""
    rng = random.Random(seed)
    log = SimulationsLog(path, 2)
    now = time.time()
    start = now - 3 * 3600
    n_finished = int(n * (1 - active_fraction))
    try:
        batch, chunk = 10_000, 100
        for lo in range(0, n, batch):
            changes = []
            for c in range(lo, min(n, lo + batch), chunk):
                rows = []
                t = start + (now - start) * c / n
                for i in range(c, min(n, c + chunk)):
                    level = 2 if i % 4 == 3 else 1
                    names = INTERFACES[level]
                    job_id = str(FIRST_ID + i)
                    rows.append(((round(rng.random(), 4), round(rng.random(), 4)), job_id,
                                 JobStatus.PENDING_SUBMIT, level, names[i % len(names)]))
                    if i < n_finished:
                        r = rng.random()
                        status = (JobStatus.COMPLETED if r < 0.9 else JobStatus.FAILED
                                  if r < 0.97 else JobStatus.CANCELLED)
                        changes.append(LogChange(job_id, t + 1, status=JobStatus.SUBMITTED))
                        changes.append(LogChange(job_id, t + 2, status=JobStatus.RUNNING))
                        changes.append(LogChange(
                            job_id, t + 30, status=status,
                            output=(rng.uniform(-10, 10) if status is JobStatus.COMPLETED
                                    else None),
                            reason="exit code 1" if status is JobStatus.FAILED else None))
                    else:
                        status = rng.choice([JobStatus.PENDING_SUBMIT, JobStatus.SUBMITTED,
                                             JobStatus.RUNNING])
                        if status is not JobStatus.PENDING_SUBMIT:
                            changes.append(LogChange(job_id, t + 1,
                                                     status=JobStatus.SUBMITTED))
                        if status is JobStatus.RUNNING:
                            changes.append(LogChange(job_id, t + 2, status=JobStatus.RUNNING))
                log.add_new_records(rows, now=t, sync=False)
            log.apply_changes(changes, sync=False)
        log.sync()
    finally:
        log.close()


def writer_main(log_path: str, rate: int, seconds: float) -> int:
    """``--writer``: hold the log, say "ready", wait for "go" on stdin, then apply ``rate``
    status changes a second for ``seconds`` (batches every 0.1 s); say "done N"."""
    log = SimulationsLog.open(log_path)
    rng = random.Random(7)
    active = {r.job_id: r.status for r in log.iter_records() if r.status in NEXT}
    ids = list(active)
    rng.shuffle(ids)
    print("ready", len(ids), flush=True)
    if not sys.stdin.readline():  # closed: not wanted after all
        log.close()
        return 0
    per_batch = max(1, rate // 10)
    sent = 0
    t0 = time.monotonic()
    k = 0
    while time.monotonic() - t0 < seconds and ids:
        changes = []
        now = time.time()
        for _ in range(per_batch):
            if not ids:
                break
            job_id = ids[k % len(ids)]
            k += 1
            status = NEXT[active[job_id]]
            changes.append(LogChange(job_id, now, status=status,
                                     output=rng.uniform(-10, 10)
                                     if status is JobStatus.COMPLETED else None))
            if status in NEXT:
                active[job_id] = status
            else:
                del active[job_id]
                ids.remove(job_id)
        log.apply_changes(changes)
        sent += len(changes)
        k += 1
        next_at = t0 + 0.1 * (sent // per_batch)
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print("done", sent, round(time.monotonic() - t0, 2), flush=True)
    sys.stdin.readline()  # hold the log until told
    log.close()
    return 0


# ---- a small terminal emulator ---------------------------------------------------------------


class Screen:
    """Characters and background colours of a ``width`` x ``height`` terminal, fed the
    bytes an app writes (CSI cursor moves, erases, SGR; other sequences skipped)."""

    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.chars = [[" "] * width for _ in range(height)]
        self.bgs: list[list[object]] = [[None] * width for _ in range(height)]
        self.x = self.y = 0
        self.bg: object = None
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.pending = ""

    def feed(self, data: bytes) -> None:
        text = self.pending + self.decoder.decode(data)
        self.pending = ""
        i, n = 0, len(text)
        while i < n:
            c = text[i]
            if c == "\x1b":
                if i + 1 >= n:
                    self.pending = text[i:]
                    return
                nxt = text[i + 1]
                if nxt == "[":
                    j = i + 2
                    while j < n and not ("\x40" <= text[j] <= "\x7e"):
                        j += 1
                    if j >= n:
                        self.pending = text[i:]
                        return
                    self._csi(text[i + 2:j], text[j])
                    i = j + 1
                elif nxt == "]" or nxt == "P" or nxt == "_":
                    j = i + 2
                    while j < n and text[j] != "\x07" and text[j:j + 2] != "\x1b\\":
                        j += 1
                    if j >= n:
                        self.pending = text[i:]
                        return
                    i = j + (1 if text[j] == "\x07" else 2)
                elif nxt in "()":
                    i += 3
                else:
                    i += 2
                continue
            if c == "\r":
                self.x = 0
            elif c == "\n":
                self.y = min(self.height - 1, self.y + 1)
            elif c == "\x08":
                self.x = max(0, self.x - 1)
            elif c >= " ":
                w = get_character_cell_size(c)
                if w and 0 <= self.y < self.height and self.x < self.width:
                    self.chars[self.y][self.x] = c
                    self.bgs[self.y][self.x] = self.bg
                    if w == 2 and self.x + 1 < self.width:
                        self.chars[self.y][self.x + 1] = ""
                        self.bgs[self.y][self.x + 1] = self.bg
                self.x += w
            i += 1

    def _csi(self, params: str, final: str) -> None:
        if final in "Hf":
            if params.startswith("?"):
                return
            parts = [p for p in params.split(";")]
            row = int(parts[0]) if parts and parts[0].isdigit() else 1
            col = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 1
            self.y, self.x = min(self.height - 1, row - 1), col - 1
        elif final == "m":
            self._sgr(params)
        elif final == "K":
            if 0 <= self.y < self.height:
                for x in range(self.x, self.width):
                    self.chars[self.y][x], self.bgs[self.y][x] = " ", self.bg
        elif final == "J" and params in ("2", "3"):
            for y in range(self.height):
                self.chars[y] = [" "] * self.width
                self.bgs[y] = [self.bg] * self.width
        elif final == "C":
            self.x += int(params or 1)
        elif final == "G":
            self.x = int(params or 1) - 1

    def _sgr(self, params: str) -> None:
        codes = [int(p) if p.isdigit() else 0 for p in params.replace(":", ";").split(";")]
        i = 0
        while i < len(codes):
            code = codes[i]
            if code == 0:
                self.bg = None
            elif code in (38, 48):
                if i + 1 < len(codes) and codes[i + 1] == 5:
                    if code == 48:
                        self.bg = ("256", codes[i + 2] if i + 2 < len(codes) else 0)
                    i += 2
                elif i + 1 < len(codes) and codes[i + 1] == 2:
                    if code == 48:
                        self.bg = tuple(codes[i + 2:i + 5])
                    i += 4
            elif code == 49:
                self.bg = None
            elif 40 <= code <= 47 or 100 <= code <= 107:
                self.bg = ("16", code)
            i += 1

    def lines(self) -> list[str]:
        return ["".join(row) for row in self.chars]

    def text(self) -> str:
        return "\n".join(self.lines())

    def table_rows(self) -> list[tuple[int, str, object]]:
        """(screen line, job id, background at the id) of each job row on screen."""
        out = []
        for y, line in enumerate(self.lines()):
            m = ROW_RE.match(line)
            if m:
                out.append((y, m[1], self.bgs[y][m.start(1)]))
        return out

    def cursor_job(self) -> Optional[str]:
        """The highlighted job: the one row whose background differs from the others."""
        rows = self.table_rows()
        if len(rows) < 3:
            return None
        counts: dict[object, int] = {}
        for _, _, bg in rows:
            counts[bg] = counts.get(bg, 0) + 1
        odd = [job for _, job, bg in rows if counts[bg] == 1]
        return odd[0] if len(odd) == 1 else None


# ---- the app in a pty ------------------------------------------------------------------------


class PtyApp:
    """``argv`` on a pty of ``width`` x ``height``; every byte it writes is counted and
    fed to a :class:`Screen`; :meth:`wait` waits for the screen to satisfy a test."""

    def __init__(self, argv: list[str], width: int, height: int, cwd: Path, env: dict):
        self.screen = Screen(width, height)
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
                                     env=env, start_new_session=True, close_fds=True)
        os.close(slave)
        self.lock = threading.Condition()
        self.chunks: list[tuple[float, int]] = []
        self.first_byte: Optional[float] = None
        self._test: Optional[Callable[[Screen], bool]] = None
        self._hit: Optional[float] = None
        self.last_hit: Optional[float] = None
        self.closed = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.5)
                if not ready:
                    if self.proc.poll() is not None:
                        break
                    continue
                data = os.read(self.master, 65536)
            except OSError:
                break
            if not data:
                break
            now = time.perf_counter()
            with self.lock:
                if self.first_byte is None:
                    self.first_byte = now
                self.chunks.append((now, len(data)))
                self.screen.feed(data)
                if self._test is not None and self._hit is None and self._test(self.screen):
                    self._hit = now
                    self.lock.notify_all()
        with self.lock:
            self.closed = True
            self.lock.notify_all()

    def send(self, keys: bytes) -> float:
        t = time.perf_counter()
        os.write(self.master, keys)
        return t

    def wait(self, test: Callable[[Screen], bool], timeout: float = 10.0,
             keys: Optional[bytes] = None) -> Optional[float]:
        """Send ``keys`` (if any) and wait until ``test(screen)`` holds; returns the
        seconds from the keys (or from now) to the chunk that made it hold, or None on
        timeout."""
        with self.lock:
            self._test, self._hit = test, None
            t0 = time.perf_counter()
            if keys is not None:
                t0 = self.send(keys)
            elif test(self.screen):
                self._test = None
                self.last_hit = t0
                return 0.0
            deadline = time.monotonic() + timeout
            while self._hit is None and not self.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.lock.wait(left)
            hit, self._test = self._hit, None
        if hit is not None:
            self.last_hit = hit
        return None if hit is None else hit - t0

    def bytes_between(self, t0: float, t1: float) -> int:
        with self.lock:
            return sum(n for t, n in self.chunks if t0 <= t < t1)

    def text(self) -> str:
        with self.lock:
            return self.screen.text()

    def peak_rss_mb(self) -> Optional[float]:
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def quit(self) -> None:
        if self.proc.poll() is None:
            os.write(self.master, b"q")
            try:
                # a managed app with jobs going asks first: answer Quit
                if self.wait(lambda s: "Quit?" in s.text(), 3.0) is not None:
                    os.write(self.master, b"y")
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()
        self.thread.join(5)
        try:
            os.close(self.master)
        except OSError:
            pass


def app_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMUX", "COLORTERM"))}
    env.update(TERM="xterm-256color", TZ="UTC", XDG_CONFIG_HOME=str(home / "config"),
               XDG_DATA_HOME=str(home / "data"), XDG_CACHE_HOME=str(home / "cache"),
               XDG_STATE_HOME=str(home / "state"))
    env.pop("NO_COLOR", None)
    return env


def shows_table(n: int) -> Callable[[Screen], bool]:
    count = f"of {n:,} jobs"

    def test(screen: Screen) -> bool:
        return len(screen.table_rows()) >= 3 and count in screen.text()

    return test


# ---- a stated background load -----------------------------------------------------------------


class Load:
    """``n`` busy processes (a pure-Python spin each, one core's worth), started here and
    stopped by :meth:`stop`; each also stops by itself after ``limit`` seconds, so none
    outlives a crashed benchmark for long. A thread samples the 1-minute load average
    every 5 s while they run."""

    def __init__(self, n: int, limit: float):
        code = ("import time\nend = time.monotonic() + %r\n"
                "while time.monotonic() < end:\n    pass\n" % limit)
        self.procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(5.0):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> None:
        self._stop.set()
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def summary(self) -> str:
        if not self.samples:
            return "no load sample taken"
        return (f"1-min load average min {min(self.samples):.1f}, median "
                f"{statistics.median(self.samples):.1f}, max {max(self.samples):.1f} "
                f"({len(self.samples)} samples, every 5 s)")


# ---- the measurements ------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


SORT_LABELS = [c.label for c in COLUMNS]


def sort_label(text: str) -> Optional[str]:
    m = re.search(r"sort (.+?)[↑↓]", text)
    return m[1] if m else None


def measure_keys(app: PtyApp, seconds: float, results: dict[str, list[float]],
                 misses: dict[str, int]) -> None:
    """Cursor, sort and filter keys, a third of ``seconds`` each; each key waits for its
    effect on the screen (or 2 s) before the next (30 ms apart)."""
    rng = random.Random(3)
    third = seconds / 3

    def record(kind: str, latency: Optional[float]) -> None:
        if latency is None:
            misses[kind] = misses.get(kind, 0) + 1
        else:
            results.setdefault(kind, []).append(latency)
        time.sleep(0.03)

    # cursor: j/k between the 2nd and 8th rows (sorted by job id: rows do not move)
    end = time.monotonic() + third
    down = True
    while time.monotonic() < end:
        with app.lock:
            rows = app.screen.table_rows()
            current = app.screen.cursor_job()
        ids = [job for _, job, _ in rows]
        if current not in ids:
            record("cursor", None)
            continue
        i = ids.index(current)
        if i >= 7:
            down = False
        elif i <= 1:
            down = True
        target = ids[i + 1] if down else ids[i - 1]
        record("cursor", app.wait(lambda s, t=target: s.cursor_job() == t, 2.0,
                                  b"j" if down else b"k"))

    # sort: o cycles the sort column (every press re-sorts all the rows)
    end = time.monotonic() + third
    while time.monotonic() < end:
        current = sort_label(app.text())
        if current not in SORT_LABELS:
            record("sort", None)
            continue
        nxt = SORT_LABELS[(SORT_LABELS.index(current) + 1) % len(SORT_LABELS)]
        record("sort", app.wait(lambda s, w=f"sort {nxt}": w in s.text(), 2.0, b"o"))
    # back to the job id order (not measured)
    while sort_label(app.text()) != SORT_LABELS[0]:
        if app.wait(lambda s: sort_label(s.text()) == SORT_LABELS[0], 2.0, b"o") is not None:
            break

    # filter: type words into the filter bar, then delete them, a key at a time
    app.wait(lambda s: "filter: id, input or interface" in s.text(), 3.0, b"/")
    end = time.monotonic() + third
    typed = ""
    words = ["hpc 0.5", "quick 0.1", "2026 0.9", "a 0.3"]
    while time.monotonic() < end:
        word = rng.choice(words)
        for ch in word:
            typed += ch
            shown = f'filter "{typed.strip()}"'
            record("filter", app.wait(lambda s, w=shown: w in s.text(), 2.0, ch.encode()))
        while typed:
            typed = typed[:-1]
            if typed.strip():
                shown = f'filter "{typed.strip()}"'
                record("filter", app.wait(lambda s, w=shown: w in s.text(), 2.0, b"\x7f"))
            else:
                record("filter", app.wait(lambda s: 'filter "' not in s.text(), 2.0, b"\x7f"))
    app.wait(lambda s: "filter: id, input" not in s.text(), 3.0, b"\x1b")


def first_paint(argv: list[str], n: int, size: tuple[int, int], cwd: Path,
                env: dict) -> Optional[tuple[float, float, float, Optional[float]]]:
    """(first output byte, first frame with text, table shown, peak RSS MB) of one start
    of ``argv``, times in seconds from the start of the process; None if the table
    never showed."""
    app = PtyApp(argv, *size, cwd, env)
    try:
        if app.wait(lambda s: s.text().strip() != "", 60.0) is None:
            return None
        frame = app.last_hit - app.started
        if app.wait(shows_table(n), 60.0) is None:
            return None
        table = app.last_hit - app.started
        first = app.first_byte - app.started
        time.sleep(1.0)  # settled: the first frames and the backend's first refresh
        return first, frame, table, app.peak_rss_mb()
    finally:
        app.quit()


def key_figure(name: str, latencies: list[float], missed: int,
               goal: bool) -> tuple[str, str, str]:
    """One figure line of key latencies (seconds): p50, p95, count, max, misses."""
    values = [v * 1000 for v in latencies]
    if not values:
        return name, "no samples", ""
    return (name, f"p50 {pct(values, .5):.1f} ms, p95 {pct(values, .95):.1f} ms",
            f"n={len(values)}, max {max(values):.0f} ms"
            + (f", {missed} not seen within 2 s" if missed else "")
            + (" (goal p95 < 50 ms)" if goal else ""))


def window(app: PtyApp, seconds: float) -> float:
    """Bytes per second written during the next ``seconds``."""
    t0 = time.perf_counter()
    time.sleep(seconds)
    t1 = time.perf_counter()
    return app.bytes_between(t0, t1) / (t1 - t0)


def run(args, work: Path, env: dict, simjobs: list[str], size: tuple[int, int]) -> int:
    figures: list[tuple[str, str, str]] = []
    load_before = os.getloadavg()[0]

    # -- how much of a start is the interpreter and the imports
    imports = []
    for _ in range(args.starts):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import simjobs.cli, simjobs.app.app"],
                       check=True, env=env, cwd=work)
        imports.append(time.perf_counter() - t)
    figures.append(("python + imports (simjobs.cli, simjobs.app.app)",
                    f"{statistics.median(imports):.2f} s",
                    f"median of {len(imports)}: part of every first paint"))

    # -- logs
    small, big = work / f"jobs-{args.jobs}.csv", work / f"jobs-{args.big}.csv"
    for path in (small, *small.parent.glob(small.name + ".*")):
        path.unlink(missing_ok=True)  # the stream used it up: made anew every run
    for path, n, active in ((small, args.jobs, 0.6), (big, args.big, 0.0)):
        if not path.exists():
            t = time.perf_counter()
            make_log(path, n, active_fraction=active)
            print(f"  made {path.name} ({n:,} jobs, {active:.0%} active) in "
                  f"{time.perf_counter() - t:.1f} s", flush=True)

    # -- first paint on the big log, watched and managed
    config = work / "big.toml"
    config.write_text(
        f'[log]\npath = "{big.name}"\ninput_dim = 2\n\n'
        + "".join(f'[[interfaces]]\nkind = "local"\nname = "{name}"\nlevel = {level}\n'
                  f'command = "{{python}} -m simjobs.demo.simulator --level {level}"\n'
                  f'workspace = "work/{name}"\n\n'
                  for level, names in INTERFACES.items() for name in names))
    for label, argv in (("watched", [*simjobs, "--watch", str(big)]),
                        ("managed", [*simjobs, "--config", str(config)])):
        starts = []
        for _ in range(args.starts):
            result = first_paint(argv, args.big, size, work, env)
            if result is None:
                print(f"  first paint ({label}): the table never showed", flush=True)
                continue
            starts.append(result)
        if starts:
            firsts, frames, tables, rsss = zip(*starts)
            figures.append((
                f"first paint, {args.big:,} records, {label}",
                f"{statistics.median(tables):.2f} s",
                "table with its rows, median of " + ", ".join(f"{t:.2f}" for t in tables)
                + f"; first frame {statistics.median(frames):.2f} s, first byte "
                f"{statistics.median(firsts):.2f} s (goal < 1 s)"))
            figures.append((f"peak RSS, {args.big:,} records, {label}",
                            f"{max(r or 0 for r in rsss):.0f} MB",
                            "VmHWM, max of the starts (goal < 300 MB)"))
        print(f"  first paint ({label}) done", flush=True)

    # -- the small log, watched while a writer changes it
    total = args.seconds + 6
    writer = subprocess.Popen(
        [sys.executable, __file__, "--writer", str(small), str(args.rate), str(total)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=work, env=env)
    ready = writer.stdout.readline().split()
    if not ready or ready[0] != "ready":
        print("the writer did not start", file=sys.stderr)
        return 1
    app = PtyApp([*simjobs, "--watch", str(small)], *size, work, env)
    results: dict[str, list[float]] = {}
    misses: dict[str, int] = {}
    quiet: dict[str, list[float]] = {}
    quiet_misses: dict[str, int] = {}
    try:
        if app.wait(shows_table(args.jobs), 60.0) is None:
            print("the app never showed the table:\n" + app.text(), file=sys.stderr)
            return 1
        # the read-only notice is a toast (drawn with a "▌" edge): let it go before
        # measuring anything
        app.wait(lambda s: "▌" in s.text(), 10.0)
        if app.wait(lambda s: "▌" not in s.text(), 30.0) is None:
            print("a notification stayed on screen:\n" + app.text(), file=sys.stderr)
            return 1
        time.sleep(1.0)
        idle_active = window(app, 5.0)
        # only finished jobs on screen: f cycles the status filter to Completed
        for _ in range(5):
            app.send(b"f")
            time.sleep(0.1)
        app.wait(lambda s: bool(s.table_rows()) and all(
            "Completed" in s.lines()[y] for y, _, _ in s.table_rows()), 5.0)
        time.sleep(1.5)
        idle_finished = window(app, 5.0)
        app.wait(lambda s: "filters cleared" in s.text(), 5.0, b"\x1b")
        app.wait(lambda s: "▌" not in s.text(), 10.0)
        time.sleep(0.5)

        # keys without events, for comparison
        measure_keys(app, 6.0, quiet, quiet_misses)
        time.sleep(0.5)

        # the stream: 5 s of events alone, then keys under events
        writer.stdin.write("go\n")
        writer.stdin.flush()
        time.sleep(0.5)
        streaming = window(app, 5.0)
        measure_keys(app, args.seconds, results, misses)
        done = writer.stdout.readline().split()
        rss = app.peak_rss_mb()
    finally:
        app.quit()
        try:
            writer.stdin.close()
        except OSError:
            pass
        try:
            writer.wait(20)
        except subprocess.TimeoutExpired:
            writer.kill()
            writer.wait()

    events = int(done[1]) if len(done) > 1 and done[0] == "done" else 0
    ran = float(done[2]) if len(done) > 2 else total
    figures.append(("event stream", f"{events / ran:.0f} events/s",
                    f"{events:,} status changes in {ran:.1f} s by a second process"))
    for kind in ("cursor", "sort", "filter"):
        for label, res, miss in (("under the stream", results, misses),
                                 ("no events", quiet, quiet_misses)):
            figures.append(key_figure(f"key latency, {kind}, {label}", res.get(kind, []),
                                      miss.get(kind, 0), label == "under the stream"))
    figures.append(("bytes/s idle, running jobs on screen", f"{idle_active:,.0f} B/s",
                    "(goal idle < 1 KB/s)"))
    figures.append(("bytes/s idle, only finished jobs on screen", f"{idle_finished:,.0f} B/s",
                    "(goal idle < 1 KB/s)"))
    figures.append((f"bytes/s under {args.rate} events/s, no keys", f"{streaming:,.0f} B/s", ""))
    figures.append((f"peak RSS, {args.jobs:,} records, after the stream", f"{rss or 0:.0f} MB",
                    "VmHWM (goal < 300 MB)"))

    print_figures(f"simjobs app (bench/tui.py): terminal {size[0]}x{size[1]}, "
                  f"{args.jobs:,} jobs watched while another process writes them; "
                  f"{os.cpu_count()} CPUs, load average {load_before:.1f} at the start, "
                  f"{os.getloadavg()[0]:.1f} at the end", figures)
    return 0


def print_figures(title: str, figures: list[tuple[str, str, str]]) -> None:
    print()
    print(title)
    if not figures:
        return
    w = max(len(f[0]) for f in figures)
    v = max(len(f[1]) for f in figures)
    for name, value, note in figures:
        print(f"  {name:<{w}}  {value:>{v}}  {note}")


def campaign(args, work: Path, env: dict, simjobs: list[str],
             size: tuple[int, int]) -> tuple[list[tuple[str, str, str]], int]:
    """``--campaign N``: the app manages a campaign of ``N`` jobs at one level.

    A new log and a config with one local interface (the demo simulator, a fraction of a
    second a job; max_jobs 2, so nearly all of the campaign stays queued); the app opens
    it (``--config``); the submit form's Batch tab is given a CSV file of ``N``
    Latin-hypercube points (``simjobs.design.latin_hypercube``) and submits them: the
    form hands them to the app's JobManager (``submit_many``, in chunks). Once the form
    says they went, the cursor, sort and filter keys are measured while the manager runs
    the campaign (2 at a time, the rest queued); then the app is quit (its queued jobs
    wait) and opened again: first paint of the campaign's log, and peak RSS."""
    from simjobs.design import latin_hypercube

    figures: list[tuple[str, str, str]] = []
    n = args.campaign
    cdir = work / f"campaign-{n}"
    if cdir.exists():
        import shutil
        shutil.rmtree(cdir)
    cdir.mkdir(parents=True)
    points = cdir / "points.csv"
    t = time.perf_counter()
    with open(points, "w") as f:
        f.write("x1,x2\n")
        for x in latin_hypercube(n, [0.0, 0.0], [1.0, 1.0], seed=11):
            f.write(f"{x[0]!r},{x[1]!r}\n")
    print(f"  made {points.name} ({n:,} Latin-hypercube points) in "
          f"{time.perf_counter() - t:.1f} s", flush=True)
    config = cdir / "campaign.toml"
    config.write_text(
        '[log]\npath = "campaign.csv"\ninput_dim = 2\n\n'
        '[[interfaces]]\nkind = "local"\nname = "cheap"\nlevel = 1\nmax_jobs = 2\n'
        'command = "{python} -m simjobs.demo.simulator --level 1"\n'
        'workspace = "work/cheap"\n')
    argv = [*simjobs, "--config", str(config)]
    # --profile FILE: the campaign's app runs under cProfile (slower: for where the time
    # goes, not for the figures)
    profiled = ([sys.executable, "-m", "cProfile", "-o", str(Path(args.profile).resolve()),
                 *simjobs[1:], "--config", str(config)] if args.profile else argv)

    app = PtyApp(profiled, *size, cdir, env)
    results: dict[str, list[float]] = {}
    misses: dict[str, int] = {}
    try:
        if app.wait(lambda s: "Submit" in s.text() or "jobs" in s.text(), 60.0) is None:
            print("campaign: the app never painted:\n" + app.text(), file=sys.stderr)
            return figures, 1
        time.sleep(2.0)
        if app.wait(lambda s: "Submit jobs" in s.text(), 10.0, b"s") is None:
            print("campaign: no submit form:\n" + app.text(), file=sys.stderr)
            return figures, 1
        time.sleep(0.5)
        app.wait(lambda s: "CSV file" in s.text(), 5.0, b"\x14")  # ctrl+t: Batch
        time.sleep(0.5)
        app.send(str(points).encode())
        if app.wait(lambda s: f"{n:,}" in s.text(), 60.0) is None:
            print("campaign: the form never read the points:\n" + app.text(), file=sys.stderr)
            return figures, 1
        time.sleep(0.5)
        t0 = app.send(b"\x13")  # ctrl+s: submit
        went = re.compile(r"Submitted [\d,]+ jobs? at level")
        if app.wait(lambda s: "Submit jobs" not in s.text() and bool(went.search(s.text())),
                    1800.0) is None:
            print("campaign: the submission did not finish:\n" + app.text(), file=sys.stderr)
            return figures, 1
        submitted = app.last_hit - t0
        figures.append((f"campaign: submit {n:,} LHS points from the form",
                        f"{submitted:.1f} s", f"{n / submitted:,.0f} jobs/s, from ctrl+s to "
                        "the form closed (the manager's submit_many, in chunks)"))
        print(f"  campaign submitted in {submitted:.1f} s", flush=True)
        app.wait(lambda s: "▌" not in s.text(), 15.0)
        app.wait(shows_table(n), 30.0)
        time.sleep(1.0)
        measure_keys(app, args.seconds, results, misses)
        rss = app.peak_rss_mb()
    finally:
        app.quit()
    for kind in ("cursor", "sort", "filter"):
        figures.append(key_figure(f"campaign: key latency, {kind}", results.get(kind, []),
                                  misses.get(kind, 0), True))
    figures.append(("campaign: peak RSS while it runs", f"{rss or 0:.0f} MB",
                    "VmHWM of the app, submission and keys (goal < 400 MB)"))

    starts = []
    for _ in range(args.starts):
        result = first_paint(argv, n, size, cdir, env)
        if result is None:
            print("  campaign first paint: the table never showed", flush=True)
            continue
        starts.append(result)
    if starts:
        firsts, frames, tables, rsss = zip(*starts)
        figures.append((
            "campaign: first paint on reopen",
            f"{statistics.median(tables):.2f} s",
            "table with its rows, median of " + ", ".join(f"{t:.2f}" for t in tables)
            + f"; first frame {statistics.median(frames):.2f} s (goal < 1 s)"))
        figures.append(("campaign: peak RSS on reopen", f"{max(r or 0 for r in rsss):.0f} MB",
                        "VmHWM, max of the starts (goal < 400 MB)"))
    return figures, 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=500, help="status events per second")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="length of the keys-under-stream window")
    parser.add_argument("--size", default="120x35", help="terminal WIDTHxHEIGHT")
    parser.add_argument("--starts", type=int, default=3, help="starts for first paint")
    parser.add_argument("--dir", help="keep the logs here (default: a temporary dir)")
    parser.add_argument("--load", type=int, default=0, metavar="N",
                        help="run under N busy background processes (started and stopped "
                        "here; the load average seen is printed)")
    parser.add_argument("--load-limit", type=float, default=1800.0, metavar="SECONDS",
                        help="the busy processes stop by themselves after this long")
    parser.add_argument("--campaign", type=int, default=0, metavar="N",
                        help="also the campaign scenario: the app submits and manages N "
                        "Latin-hypercube jobs (100000 for issue 11)")
    parser.add_argument("--campaign-only", action="store_true",
                        help="skip the default figures, run only --campaign")
    parser.add_argument("--profile", metavar="FILE",
                        help="run the campaign's app under cProfile, stats to FILE "
                        "(its figures are then not comparable)")
    parser.add_argument("--writer", nargs=3, metavar=("LOG", "RATE", "SECONDS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer:
        return writer_main(args.writer[0], int(args.writer[1]), float(args.writer[2]))
    width, height = (int(v) for v in args.size.lower().split("x"))
    work = Path(args.dir or tempfile.mkdtemp(prefix="simjobs-bench-tui-"))
    work.mkdir(parents=True, exist_ok=True)
    env = app_env(work / "home")
    simjobs = [sys.executable, "-m", "simjobs", "app"]
    print(f"simjobs app benchmark: terminal {width}x{height}, logs in {work}", flush=True)
    # The sources byte-compiled first, as installing the package does: an editable
    # install under PYTHONDONTWRITEBYTECODE (some sandboxes set it) would otherwise
    # compile every simjobs module again at each start (~0.2 s of each first paint).
    # Those the app imports: PYTHONPATH may name another copy (old code, A/B runs).
    app_src = subprocess.run([sys.executable, "-c", "import simjobs; print(simjobs.__path__[0])"],
                             check=True, env=env, cwd=work, capture_output=True, text=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", app_src.stdout.strip()],
                   check=True, env=env, cwd=work)
    print(f"the app's sources: {app_src.stdout.strip()}", flush=True)
    load = Load(max(0, args.load), args.load_limit)  # with 0 processes: samples only
    try:
        time.sleep(5.5 if args.load else 0.0)  # the busy processes are up: first sample
        status = 0
        if not args.campaign_only:
            status = run(args, work, env, simjobs, (width, height))
        if args.campaign and status == 0:
            figures, status = campaign(args, work, env, simjobs, (width, height))
            print_figures(f"simjobs app (bench/tui.py --campaign {args.campaign}): "
                          f"terminal {width}x{height}, {args.campaign:,} jobs managed by "
                          f"the app (one local interface, max_jobs 2)", figures)
    finally:
        load.stop()
    print(f"\nbackground load: {args.load} busy process(es) started by the benchmark; "
          f"{os.cpu_count()} CPUs; {load.summary()}")
    return status


if __name__ == "__main__":
    sys.exit(main())
