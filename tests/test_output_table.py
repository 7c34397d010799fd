"""One table of output files, read alike by every interface (local, SSH, Slurm).

Each row is the exact bytes a simulator leaves in its output file and what the job
must end as: COMPLETED with that value, or FAILED with a reason holding that text.
The same simulator (``cat_case.sh``: copies case number N, its input, to the output
file) runs the whole table through LocalInterface, SSHInterface (real sshd on
127.0.0.1) and SlurmInterface (the real one-node Slurm); every interface must give
the same result as :func:`jobdir.parse_output` gives for the bytes.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

import helpers
from simjobs.core.types import Input, Job, JobId, JobStatus
from simjobs.interfaces import jobdir
from simjobs.interfaces.local import LocalInterface

MIB = 1 << 20

# (output file bytes, the float it is) or (bytes, text the failure reason holds)
TABLE: list[tuple[bytes, object]] = [
    (b"3.5\n", 3.5),
    (b"3.5", 3.5),  # no newline
    (b"  -2.5e-3 \t\r\n\n", -0.0025),
    (b".5e1", 5.0),
    (b"+7E+2\n", 700.0),
    (b"-0\n", -0.0),
    (b"1" + b"0" * 5000 + b"e-5000\n", 1.0),  # a long mantissa is not inf
    (b"0." + b"3" * 6000 + b"\n", 0.3333333333333333),
    (b"9" * 300 + b"\n", float("9" * 300)),
    (b"3.5" + b" " * 5000 + b"garbage\n", "is not a number"),  # text after 4 KiB counts
    (b"1_000\n", "'1_000' is not a number"),
    ("\u0663\n".encode(), "is not a number"),  # ARABIC-INDIC DIGIT THREE
    ("\u00a01.5\n".encode(), "is not a number"),  # no-break space is not ASCII space
    (b"nan\n", "'nan' is not a number"),
    (b"inf", "'inf' is not a number"),
    (b"-Infinity\n", "'-Infinity' is not a number"),
    (b"0x10\n", "'0x10' is not a number"),
    (b"1.5\x00\n", "is not a number"),  # a NUL a shell's read would drop
    (b"1.5\n2.5\n", "is not a number"),
    (b"1e400\n", "too large for a float"),
    (b"", "the output file is empty"),
    (b" \n\n", "the output file is empty"),
    (b"1" + b" " * MIB, f"{MIB + 1:,} bytes, over the {MIB:,}-byte limit"),
]

CAT_CASE_SH = """#!/bin/sh
# Copies case N (the job's input, one number) from the cases directory (arg 1) to the
# output file.
cases=$1
shift
n=$(cut -d. -f1 "$1")
cat "$cases/$n" > "$2"
"""


def test_the_table_is_what_the_parser_says():
    for data, expected in TABLE:
        value, reason = jobdir.parse_output(data)
        if isinstance(expected, float):
            assert (value, reason) == (expected, None), data[:40]
            assert str(value) == str(expected)  # -0.0 too
        else:
            assert value is None and expected in reason, (data[:40], reason)
            assert "\n" not in reason and len(reason) < 200


def write_cases(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for n, (data, _) in enumerate(TABLE):
        (directory / str(n)).write_bytes(data)


def table_jobs() -> list[Job]:
    return [Job(JobId(n + 1), Input(float(n))) for n in range(len(TABLE))]


def run_table(iface, submit, timeout: float = 120.0) -> None:
    """Submit every row, wait for all to end, and check each job's result."""
    jobs = table_jobs()
    submit(jobs)
    ids = [job.id for job in jobs]
    ended = {JobStatus.COMPLETED, JobStatus.FAILED}

    def all_ended():
        statuses = iface.get_job_statuses(ids)
        return len(statuses) == len(ids) and set(statuses.values()) <= ended and statuses

    statuses = helpers.wait_for(all_ended, timeout=timeout, interval=0.2,
                                message="every job of the table to end")
    for job, (data, expected) in zip(jobs, TABLE):
        row = f"row {int(str(job.id)) - 1} ({data[:30]!r})"
        if isinstance(expected, float):
            assert statuses[job.id] is JobStatus.COMPLETED, (row, iface.failure_reason(job.id))
            output = iface.get_job_output(job.id)
            assert output == expected and str(output) == str(expected), row
        else:
            assert statuses[job.id] is JobStatus.FAILED, row
            reason = iface.failure_reason(job.id)
            assert expected in reason, (row, reason)


def test_local_interface_reads_the_table(tmp_path):
    cases = tmp_path / "cases"
    write_cases(cases)
    sim = tmp_path / "cat_case.sh"
    sim.write_text(CAT_CASE_SH)
    sim.chmod(0o755)
    iface = LocalInterface("loc", 1, [str(sim), str(cases)], tmp_path / "work", max_jobs=4)
    try:
        run_table(iface, lambda jobs: [iface.submit_job(job) for job in jobs])
    finally:
        iface.close()


def test_ssh_interface_reads_the_table(ssh_server):
    from test_ssh_interface import Remote, settings_of

    from simjobs.interfaces.ssh import SSHInterface

    remote = Remote(settings_of(ssh_server))
    try:
        cases = f"{remote.base}/cases"
        remote.run(f"mkdir -p {shlex.quote(cases)}")
        for n, (data, _) in enumerate(TABLE):
            remote.runner.put_file(data, f"{cases}/{n}")
        remote.runner.put_file(CAT_CASE_SH.encode(), remote.sim("cat_case.sh"))
        remote.run(f"chmod +x {shlex.quote(remote.sim('cat_case.sh'))}")
        server = ssh_server
        iface = SSHInterface(
            "ssh", 1, server["host"], [remote.sim("cat_case.sh"), cases],
            remote.workspace(), port=int(server["port"]), user=server["user"],
            identity_files=[server["key"]], known_hosts=server["known_hosts"], max_jobs=4,
        )
        try:
            run_table(iface, iface.submit_jobs)
        finally:
            iface.close()
    finally:
        remote.close()


def test_slurm_interface_reads_the_table(slurm_cluster, tmp_path):
    from simjobs.interfaces.slurm import SLURM_ID_FILE, SlurmInterface

    cases = tmp_path / "cases"
    write_cases(cases)
    sim = tmp_path / "cat_case.sh"
    sim.write_text(CAT_CASE_SH)
    sim.chmod(0o755)
    work = tmp_path / "work"
    iface = SlurmInterface("slurm", 1, [str(sim), str(cases)], str(work),
                           partition=slurm_cluster["partition"])
    try:
        run_table(iface, iface.submit_jobs, timeout=300)
    finally:
        iface.close()
        ids = [p.read_text().strip() for p in work.glob(f"*/{SLURM_ID_FILE}")]
        if ids:
            subprocess.run(["scancel", *filter(None, ids)], capture_output=True, timeout=60)
