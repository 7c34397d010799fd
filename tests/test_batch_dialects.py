"""The PBS, LSF and Grid Engine dialects of the batch layer, without their servers.

No PBS or LSF server can run here: their dialects are tested on the command lines the
batch layer builds (run for real through /bin/sh, with small stand-ins for qsub/bsub on
the PATH that record their arguments and standard input and print what the
documentation says they print), on the batch script those commands send (run with the
variables each scheduler sets in a job), and on status outputs in the documented
formats (tests/data/pbs, tests/data/lsf: written by hand, see their README). The Grid
Engine parsers read outputs captured from the real Grid Engine 8.1.9 of this machine
(tests/data/sge/dialect_*).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simjobs.config import ConfigError, load_config
from simjobs.core.types import Input, Job, JobId, JobStatus
from simjobs.interfaces import jobdir
from simjobs.interfaces.batch import batch_interface_class
from simjobs.interfaces.batch_dialect import UnreadableOutputError, resolve_batch_state
from simjobs.interfaces.lsf import LSF, LSFInterface, parse_bjobs_json
from simjobs.interfaces.pbs import PBS, PBSInterface, parse_qstat_json
from simjobs.core.hardware import HEALTH_DEGRADED, HEALTH_OK, HEALTH_UNREACHABLE
from simjobs.interfaces.runner import CommandResult, HostUnreachableError, LocalRunner
from simjobs.interfaces.sge import SGE, SGEInterface, parse_qacct, parse_qstat_xml
from simjobs.interfaces.slurm import SlurmInterface

DATA = Path(__file__).parent / "data"
SUM = [sys.executable, str(Path(__file__).parent / "sims" / "sum.py")]

# What each submit program prints (from its documentation): (single job, array).
PRINTS = {
    "qsub-pbs": ("1002.pbs01", "1001[].pbs01"),
    "bsub": ("Job <2002> is submitted to default queue <normal>.",
             "Job <2001> is submitted to default queue <normal>."),
    "qsub-sge": ("62", "61.1-3:1"),
}


def _stand_in(bin_dir: Path, program: str, key: str, array_glob: str) -> Path:
    """A stand-in for a submit program: records its arguments (one per line) and its
    standard input in bin_dir/calls/N.{args,stdin}, prints what the real one prints."""
    single, array = PRINTS[key]
    script = bin_dir / program
    script.write_text(
        "#!/bin/sh\n"
        f'd={shlex.quote(str(bin_dir))}/calls; mkdir -p "$d"\n'
        'n=$(ls "$d" | wc -l)\n'
        'for a in "$@"; do printf "%s\\n" "$a"; done > "$d/$n.args"\n'
        'cat > "$d/$n.stdin"\n'
        f'case " $* " in {array_glob}) echo {shlex.quote(array)} ;; '
        f'*) echo {shlex.quote(single)} ;; esac\n')
    script.chmod(0o755)
    return script


def _calls(bin_dir: Path) -> list[tuple[list[str], str]]:
    calls = bin_dir / "calls"
    names = sorted(calls.glob("*.args"), key=lambda p: int(p.stem)) if calls.exists() else []
    return [(p.read_text().splitlines(), p.with_suffix(".stdin").read_text()) for p in names]


CASES = {
    # kind: (interface class, program, stand-in key, how its argv says "array")
    "pbs": (PBSInterface, "qsub", "qsub-pbs", '*" -J "*'),
    "lsf": (LSFInterface, "bsub", "bsub", '*"]"*'),  # -J "name[1-N]"
    "sge": (SGEInterface, "qsub", "qsub-sge", '*" -t "*'),
}


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    def make(kind: str):
        cls, program, key, array_glob = CASES[kind]
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        _stand_in(bin_dir, program, key, array_glob)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        iface = cls("hpc", 1, SUM, tmp_path / "work", queue="short",
                    submit_args=EXTRA[kind], max_jobs=5, runner=LocalRunner())
        return iface, bin_dir
    return make


EXTRA = {"pbs": ["-l", "walltime=00:10:00"], "lsf": ["-W", "10"],
         "sge": ["-l", "h_rt=00:10:00"]}

EXPECTED_ARRAY_ARGV = {
    "pbs": ["-S", "/bin/sh", "-N", "simjobs-1-3", "-q", "short", "-l", "walltime=00:10:00",
            "-J", "1-3",
            "-o", "{ws}/{tasks}-^array_index^.out", "-e", "{ws}/{tasks}-^array_index^.out"],
    "lsf": ["-J", "simjobs-1-3[1-3]%5", "-q", "short", "-W", "10", "-cwd", "{ws}",
            "-oo", "{ws}/{tasks}-%I.out", "-eo", "{ws}/{tasks}-%I.out"],
    "sge": ["-terse", "-S", "/bin/sh", "-b", "n", "-N", "simjobs-1-3", "-q", "short", "-l",
            "h_rt=00:10:00", "-t", "1-3", "-tc", "5", "-wd", "{ws}",
            "-o", "{ws}/{tasks}-$TASK_ID.out", "-e", "{ws}/{tasks}-$TASK_ID.out"],
}
EXPECTED_TASK_IDS = {
    "pbs": ["1001[1].pbs01", "1001[2].pbs01", "1001[3].pbs01"],
    "lsf": ["2001[1]", "2001[2]", "2001[3]"],
    "sge": ["61.1", "61.2", "61.3"],
}
EXPECTED_SINGLE_ARGV = {
    "pbs": ["-S", "/bin/sh", "-N", "simjobs-4", "-q", "short", "-l", "walltime=00:10:00",
            "-o", "{d}/pbs.out", "-e", "{d}/pbs.err"],
    "lsf": ["-J", "simjobs-4", "-q", "short", "-W", "10", "-cwd", "{d}",
            "-oo", "{d}/lsf.out", "-eo", "{d}/lsf.err"],
    "sge": ["-terse", "-S", "/bin/sh", "-b", "n", "-N", "simjobs-4", "-q", "short", "-l",
            "h_rt=00:10:00", "-wd", "{d}", "-o", "{d}/sge.out", "-e", "{d}/sge.err"],
}
SINGLE_ID = {"pbs": "1002.pbs01", "lsf": "2002", "sge": "62"}
# The variables each scheduler sets in a batch job: submit directory, array index.
JOB_ENV = {"pbs": ("PBS_O_WORKDIR", "PBS_ARRAY_INDEX"),
           "lsf": ("LS_SUBCWD", "LSB_JOBINDEX"),
           "sge": ("SGE_O_WORKDIR", "SGE_TASK_ID")}


def _jobs(*ids: int) -> list[Job]:
    return [Job(JobId(str(i)), Input(float(i), 1.0)) for i in ids]


@pytest.mark.parametrize("kind", list(CASES))
def test_a_batch_is_one_array_submit_with_the_dialects_command_line(stand_in, kind):
    iface, bin_dir = stand_in(kind)
    outcomes = iface.submit_jobs(_jobs(1, 2, 3))
    assert outcomes == {JobId("1"): None, JobId("2"): None, JobId("3"): None}
    ((argv, script),) = _calls(bin_dir)  # ONE submit for the three jobs
    ws = iface.workspace
    (tasks_file,) = Path(ws, ".simjobs-slurm").glob("*.tasks")
    tasks = f".simjobs-slurm/{tasks_file.stem}"
    assert argv == [a.format(ws=ws, tasks=tasks) for a in EXPECTED_ARRAY_ARGV[kind]]
    assert tasks_file.read_text() == "1\n2\n3\n"
    # Each job's scheduler id is recorded in its directory by the same command.
    ids = [Path(ws, str(j), iface.dialect.id_file).read_text().strip() for j in (1, 2, 3)]
    assert ids == EXPECTED_TASK_IDS[kind]
    assert script.startswith("#!/bin/sh\n")

    # One more job goes out on its own, in its own directory.
    assert iface.submit_jobs(_jobs(4)) == {JobId("4"): None}
    argv, _ = _calls(bin_dir)[1]
    d = f"{ws}/4"
    assert argv == [a.format(d=d) for a in EXPECTED_SINGLE_ARGV[kind]]
    assert Path(d, iface.dialect.id_file).read_text().strip() == SINGLE_ID[kind]


@pytest.mark.parametrize("kind", list(CASES))
def test_the_array_script_runs_the_job_of_its_task_from_the_schedulers_variables(
        stand_in, kind, tmp_path):
    iface, bin_dir = stand_in(kind)
    iface.submit_jobs(_jobs(1, 2, 3))
    ((_, script),) = _calls(bin_dir)
    submit_dir, index = JOB_ENV[kind]
    # What the scheduler does for task 2: run the script from $HOME with its variables
    # (and none of the other schedulers').
    env = {k: v for k, v in os.environ.items()
           if k not in {v for pair in JOB_ENV.values() for v in pair}}
    env.update({submit_dir: iface.workspace, index: "2"})
    result = subprocess.run(["/bin/sh", "-s"], input=script, text=True, env=env,
                            cwd=tmp_path, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    job2 = Path(iface.workspace, "2")
    assert (job2 / jobdir.EXIT_CODE_FILE).read_text().strip() == "0"
    assert float((job2 / jobdir.OUTPUT_FILE).read_text()) == 3.0  # 2 + 1
    assert not (Path(iface.workspace, "1") / jobdir.EXIT_CODE_FILE).exists()
    # Its scheduler's own stdout/stderr went to the job's directory.
    assert (job2 / iface.dialect.stderr_file).exists()


@pytest.mark.parametrize("kind", list(CASES))
def test_the_single_job_script_runs_its_job_from_the_schedulers_variable(
        stand_in, kind, tmp_path):
    iface, bin_dir = stand_in(kind)
    iface.submit_jobs(_jobs(7))
    ((_, script),) = _calls(bin_dir)
    env = dict(os.environ, **{JOB_ENV[kind][0]: iface.workspace})
    result = subprocess.run(["/bin/sh", "-s"], input=script, text=True, env=env,
                            cwd=tmp_path, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert float(Path(iface.workspace, "7", jobdir.OUTPUT_FILE).read_text()) == 8.0


def test_a_cancelled_job_directory_is_never_submitted(stand_in):
    # The shared bookkeeping holds for every dialect: a job found cancelled on disk
    # (submitted again after a restart) is settled, never handed to qsub.
    iface, bin_dir = stand_in("pbs")
    Path(iface.workspace).mkdir(parents=True)
    (Path(iface.workspace) / "9").mkdir()
    (Path(iface.workspace) / "9" / jobdir.CANCELLED_FILE).write_text("")
    assert iface.submit_jobs(_jobs(9)) == {JobId("9"): None}
    assert _calls(bin_dir) == []


# ---- status outputs: PBS and LSF in their documented formats, Grid Engine's real ones


def test_pbs_qstat_json_rows_and_states():
    text = (DATA / "pbs" / "qstat_f_json_x_t.json").read_text()
    rows = parse_qstat_json(text)
    assert rows["1001[2].pbs01"] == ("R", "")
    assert rows["1001[1].pbs01"] == ("X", "Exit_status=0")
    assert rows["1002.pbs01"][0] == "F" and rows["1002.pbs01"][1].startswith("Exit_status=271;")
    statuses = {i: PBS.status_of(r[0]) for i, r in rows.items()}
    assert statuses["1001[3].pbs01"] is JobStatus.SUBMITTED
    assert statuses["1004.pbs01"] is JobStatus.SUBMITTED  # held
    assert statuses["1001[].pbs01"] is JobStatus.RUNNING  # B: the array has begun
    # Only the ids asked about.
    assert set(parse_qstat_json(text, {"1003.pbs01", "nope"})) == {"1003.pbs01"}
    # Who ended a finished job: 0-255 the wrapper itself, 256+N a signal, <0 PBS.
    assert not PBS.killed(rows["1001[1].pbs01"]) and not PBS.killed(rows["1003.pbs01"])
    assert PBS.killed(rows["1002.pbs01"]) and PBS.killed(rows["1005.pbs01"])
    assert not PBS.killed(rows["1001[2].pbs01"])


def test_pbs_finished_states_resolve_against_the_files():
    rows = parse_qstat_json((DATA / "pbs" / "qstat_f_json_x_t.json").read_text())
    started = {jobdir.STARTED_MARKER: b""}
    # Killed by PBS (walltime, qdel outside simjobs): FAILED at once, with the reason.
    killed = resolve_batch_state(PBS, rows["1002.pbs01"], started)
    assert killed.status is JobStatus.FAILED
    assert killed.reason.startswith("PBS state F (Exit_status=271; Job run at")
    # Ended by itself without an exit code file: not concluded while files may come.
    assert resolve_batch_state(PBS, rows["1003.pbs01"], started,
                               files_overdue=False).status is JobStatus.RUNNING
    late = resolve_batch_state(PBS, rows["1003.pbs01"], started)
    assert late.status is JobStatus.FAILED
    assert late.reason == "PBS state F, but the job's wrapper recorded no exit code"
    # The wrapper's exit code decides when it is there.
    done = resolve_batch_state(PBS, rows["1001[1].pbs01"], {
        **started, jobdir.EXIT_CODE_FILE: b"0\n", jobdir.OUTPUT_FILE: b"4.5\n"})
    assert done.status is JobStatus.COMPLETED and done.output == 4.5


def test_lsf_bjobs_json_rows_and_states():
    text = (DATA / "lsf" / "bjobs_o_json_a.json").read_text()
    rows = parse_bjobs_json(text)
    assert set(rows) == {"2001[1]", "2001[2]", "2001[3]", "2002", "2003", "2004"}
    assert rows["2001[2]"] == ("RUN", "")
    assert rows["2002"] == ("EXIT", "exit_code=3")
    assert {i: LSF.status_of(r[0]) for i, r in rows.items()} == {
        "2001[1]": JobStatus.COMPLETED, "2001[2]": JobStatus.RUNNING,
        "2001[3]": JobStatus.SUBMITTED, "2002": JobStatus.FAILED,
        "2003": JobStatus.FAILED, "2004": JobStatus.SUBMITTED}
    # EXIT is the wrapper's own non-zero exit unless LSF names its reason.
    assert not LSF.killed(rows["2002"]) and LSF.killed(rows["2003"])
    killed = resolve_batch_state(LSF, rows["2003"], {jobdir.STARTED_MARKER: b""})
    assert killed.status is JobStatus.FAILED
    assert killed.reason.startswith("LSF state EXIT (exit_code=140; exit_reason=TERM_RUNLIMIT")
    with pytest.raises(UnreadableOutputError):
        parse_bjobs_json("not json")


def test_sge_qstat_xml_rows_from_the_real_grid_engine():
    # Captured from Grid Engine 8.1.9: two running tasks of array 61 (states r, t), its
    # pending tasks "3,4", and a held job 62 (hqw).
    rows = parse_qstat_xml((DATA / "sge" / "dialect_qstat_pending.xml").read_text())
    assert rows == {"61.1": ("r", "all.q@vm"), "61.2": ("t", "all.q@vm"),
                    "61.3": ("qw", ""), "61.4": ("qw", ""), "62": ("hqw", "")}
    assert [SGE.status_of(rows[i][0]) for i in ("61.1", "61.2", "61.3", "62")] == [
        JobStatus.RUNNING, JobStatus.RUNNING, JobStatus.SUBMITTED, JobStatus.SUBMITTED]
    with pytest.raises(UnreadableOutputError):
        parse_qstat_xml("error: commlib error")


@pytest.mark.parametrize("state, letter, status", [
    ("qw", "q", JobStatus.SUBMITTED), ("hqw", "h", JobStatus.SUBMITTED),
    ("hRwq", "h", JobStatus.SUBMITTED), ("r", "r", JobStatus.RUNNING),
    ("Rr", "r", JobStatus.RUNNING), ("t", "t", JobStatus.RUNNING),
    ("dr", "r", JobStatus.RUNNING), ("s", "s", JobStatus.RUNNING),
    # d(eletion) only modifies: a pending job being deleted is still pending.
    ("dqw", "q", JobStatus.SUBMITTED), ("dhqw", "h", JobStatus.SUBMITTED),
    ("dt", "t", JobStatus.RUNNING), ("d", "d", JobStatus.RUNNING),
    ("S", "S", JobStatus.RUNNING), ("Eqw", "E", JobStatus.FAILED),
])
def test_sge_combined_states_are_decided_by_one_letter(state, letter, status):
    assert SGE.normalise(state) == letter
    assert SGE.status_of(state) is status


def test_sge_qacct_records_from_the_real_grid_engine():
    text = (DATA / "sge" / "dialect_qacct.txt").read_text()
    rows = parse_qacct(text)
    # 61.2 was deleted while running (qdel): failed 100, killed; the others ended by
    # themselves; 62, deleted while held, never ran and has no record.
    assert rows["61.2"] == ("z", "failed=100 : assumedly after job; exit_status=137 (Killed)")
    assert rows["61.1"] == ("z", "failed=0; exit_status=0")
    assert "62" not in rows
    assert SGE.killed(rows["61.2"]) and not SGE.killed(rows["61.1"])
    killed = resolve_batch_state(SGE, rows["61.2"], {jobdir.STARTED_MARKER: b""})
    assert killed.reason.startswith(
        "Grid Engine state z (failed=100 : assumedly after job; exit_status=137 (Killed))")
    unknown = (DATA / "sge" / "dialect_qacct_unknown.txt").read_text()
    assert parse_qacct(unknown) == {}
    # "job id not found" is not "no accounting": accounting stays in use.
    result = CommandResult(1, b"@simjobs 99999\n" + unknown.encode(), b"")
    assert SGE.parse_accounting(result) == {}
    missing = CommandResult(1, b"@simjobs 5\nerror: unable to open accounting file\n", b"")
    assert SGE.parse_accounting(missing) is None


def test_sge_qdel_messages_from_the_real_grid_engine():
    gone = (DATA / "sge" / "dialect_qdel_gone.txt").read_text().splitlines()[0]
    assert SGE.cancel_tolerated.search(gone)  # denied: job "62" does not exist
    for line in (DATA / "sge" / "dialect_qdel.txt").read_text().splitlines()[:2]:
        assert SGE.cancel_tolerated.search(line) or "has deleted" in line


def test_sge_qsub_terse_outputs_give_the_ids_the_shell_takes():
    # What sge_submit.sh keeps of qsub -terse's answer: the job number.
    for name, expected in (("dialect_qsub_terse_array.txt", "61"),
                           ("dialect_qsub_terse_job.txt", "62")):
        out = (DATA / "sge" / name).read_text().strip()
        assert out.split(".", 1)[0] == expected
    assert SGE.task_id("61", 2) == "61.2"


# ---- commands


def test_status_and_cancel_commands_are_one_call_each():
    ids = ["1001[1].pbs01", "1001[2].pbs01", "1002.pbs01"]
    assert PBS.status_command(ids) == "qstat -f -F json -x -t '1001[].pbs01' 1002.pbs01"
    assert PBS.cancel_command(ids) == "qdel '1001[1].pbs01' '1001[2].pbs01' 1002.pbs01"
    assert LSF.status_command(["2001[1]"]) == \
        "bjobs -o 'jobid jobindex stat exit_code exit_reason' -json -a"
    assert LSF.cancel_command(["2001[1]", "2002"]) == "bkill '2001[1]' 2002"
    assert SGE.status_command(["61.1"]) == 'qstat -xml -u "$(id -un)"'
    assert SGE.cancel_command(["61.1", "61.2", "61.3", "61.7", "62"]) == \
        "qdel 62 61.1-3 61.7"


def test_pbs_status_answer_with_unknown_ids_still_counts():
    known = json.dumps({"Jobs": {"5.s": {"job_state": "R"}}}).encode()
    partial = CommandResult(35, known, b"qstat: Unknown Job Id 4.s\n")
    assert PBS.status_ok(partial)
    assert not PBS.status_ok(CommandResult(1, b"", b"Connection refused\n"
                                           b"qstat: cannot connect to server pbs01\n"))
    assert PBS.unreachable.search("qstat: cannot connect to server pbs01 (errno=15010)")


@pytest.mark.parametrize("cls, args, bad", [
    (PBSInterface, ["-N", "mine"], "simjobs sets -N (the job name) itself"),
    (PBSInterface, ["-Jx"], "simjobs sets -J (the array) itself"),
    (LSFInterface, ["-cwd", "/x"], "simjobs sets -cwd (the job's directory) itself"),
    (SGEInterface, ["-t", "1-3"], "simjobs sets -t (the array) itself"),
])
def test_submit_args_may_not_set_what_simjobs_sets(tmp_path, cls, args, bad):
    with pytest.raises(ValueError, match=bad.replace("(", r"\(").replace(")", r"\)")):
        cls("x", 1, SUM, tmp_path / "w", submit_args=args)


def test_lsf_multi_letter_options_are_not_taken_for_one_letter_ones(tmp_path):
    # -env starts with "-e" (the error file, simjobs' own), yet is another option.
    iface = LSFInterface("x", 1, SUM, tmp_path / "w", submit_args=["-env", "all"])
    assert iface.describe()["queue"] == "(default)"


def test_batch_interface_class_names_every_kind():
    assert batch_interface_class("slurm") is SlurmInterface
    assert batch_interface_class("sge") is SGEInterface
    with pytest.raises(ValueError, match="'torque' is not a batch scheduler kind"):
        batch_interface_class("torque")


# ---- config


CONFIG = """\
[log]
path = "runs.csv"
input_dim = 2

[[interfaces]]
kind = "KIND"
name = "cluster"
level = 1
workspace = "scratch/simjobs"
command = "~/bin/sim"
queue = "short"
submit_args = ["-l", "h_rt=00:10:00"]
max_jobs = 50

[interfaces.ssh]
host = "127.0.0.1"
"""


@pytest.mark.parametrize("kind, cls", [("pbs", PBSInterface), ("lsf", LSFInterface),
                                       ("sge", SGEInterface)])
def test_config_builds_each_batch_kind(tmp_path, kind, cls):
    path = tmp_path / "simjobs.toml"
    path.write_text(CONFIG.replace("KIND", kind))
    config = load_config(path)
    (spec,) = config.interfaces
    assert (spec.kind, spec.partition, spec.sbatch_args) == (kind, "short",
                                                             ("-l", "h_rt=00:10:00"))
    (iface,) = config.build_interfaces()
    try:
        assert type(iface) is cls and iface.kind == kind
        assert iface.describe()["queue"] == "short" and iface.max_jobs == 50
        assert iface.workspace == "scratch/simjobs"
    finally:
        iface.close()


@pytest.mark.parametrize("change, expected", [
    (lambda t: t.replace('queue = "short"', 'partition = "short"'),
     "unknown key 'partition' in interfaces[0]"),
    (lambda t: t.replace("submit_args", "qsub_args"),
     "unknown key 'qsub_args' in interfaces[0]; did you mean 'submit_args'?"),
    (lambda t: t.replace('kind = "pbs"', 'kind = "torque"'),
     "interfaces[0].kind must be one of 'local', 'ssh', 'slurm', 'pbs', 'lsf', 'sge'"),
    (lambda t: t.replace('queue = "short"', 'queue = "two words"'),
     "interfaces[0].queue must be a queue name"),
])
def test_bad_batch_config_is_one_line(tmp_path, change, expected):
    path = tmp_path / "simjobs.toml"
    path.write_text(change(CONFIG.replace("KIND", "pbs")))
    with pytest.raises(ConfigError) as info:
        load_config(path).build_interfaces()
    message = str(info.value)
    assert "\n" not in message and expected in message, message


def test_sge_every_state_of_a_mixed_real_queue():
    # Captured by the sge helper: a suspended job (s), running and pending tasks, a job
    # in error (Eqw: its -wd did not exist), held ones (hqw, a stepped range 1-10:3).
    rows = parse_qstat_xml((DATA / "sge" / "dialect_qstat_mixed.xml").read_text())
    assert rows["52"][0] == "s" and rows["51"][0] == "Eqw"
    assert {i for i in rows if i.startswith("53.")} == {f"53.{t}" for t in range(1, 6)}
    assert {i for i in rows if i.startswith("57.")} == {"57.1", "57.4", "57.7", "57.10"}
    statuses = {i: SGE.status_of(r[0]) for i, r in rows.items()}
    assert statuses["52"] is JobStatus.RUNNING and statuses["53.4"] is JobStatus.SUBMITTED
    assert statuses["57.7"] is JobStatus.SUBMITTED
    # A job in error never runs until an administrator clears it: Failed, saying so.
    assert SGE.killed(rows["51"])
    error = resolve_batch_state(SGE, rows["51"], {})
    assert error.status is JobStatus.FAILED
    assert error.reason == ("Grid Engine state Eqw (in error: it could not start; simjobs "
                            "deleted it from the queue so that it never runs later); the "
                            "job wrapper never started")
    assert SGE.stays_queued(rows["51"]) and not SGE.stays_queued(rows["52"])


def test_sge_real_qacct_of_an_array_and_qdel_messages():
    rows = parse_qacct((DATA / "sge" / "dialect_qacct_array.txt").read_text())
    assert set(rows) == {"50.1", "50.2", "50.3"}
    assert all(not SGE.killed(row) for row in rows.values())
    # qdel of jobs deleted, being deleted, or gone: no error for simjobs (qdel prints all
    # of it on stdout and exits 1 when any id is gone), so one qdel call is enough.
    for name in ("dialect_qdel_nothing_left.txt", "dialect_qdel_known_and_unknown.txt",
                 "dialect_qdel.txt"):
        lines = [line for line in (DATA / "sge" / name).read_text().splitlines()
                 if not line.startswith("rc=")]
        assert lines and all(SGE.cancel_tolerated.search(line) for line in lines), lines
    # A queue that does not exist is a rejection, not a busy scheduler.
    refused = (DATA / "sge" / "dialect_qsub_unknown_queue.err").read_text()
    assert not SGE.transient.search(refused) and not SGE.queue_limit.search(refused)


# ---- a poll and a cancel through the batch layer, the scheduler's answers as documented


def _answering(bin_dir: Path, program: str) -> Path:
    """A stand-in status/cancel program: records its arguments, prints bin_dir/<program>.out
    and .err (what the test says the scheduler answers) and exits with <program>.rc."""
    script = bin_dir / program
    d = shlex.quote(str(bin_dir))
    script.write_text(
        "#!/bin/sh\n"
        f'for a in "$@"; do printf "%s\\n" "$a"; done >> {d}/{program}.args\n'
        f'echo "--" >> {d}/{program}.args\n'
        f'cat {d}/{program}.out 2>/dev/null\n'
        f'cat {d}/{program}.err >&2 2>/dev/null\n'
        f'exit "$(cat {d}/{program}.rc 2>/dev/null || echo 0)"\n')
    script.chmod(0o755)
    return script


def _run_task(iface, script: str, kind: str, index: str, cwd: Path) -> None:
    """Run the batch script of task ``index`` as the scheduler would (its variables)."""
    submit_dir, index_var = JOB_ENV[kind]
    env = {k: v for k, v in os.environ.items()
           if k not in {v for pair in JOB_ENV.values() for v in pair}}
    env.update({submit_dir: iface.workspace, index_var: index})
    result = subprocess.run(["/bin/sh", "-s"], input=script, text=True, env=env, cwd=cwd,
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr


POLL_ANSWERS = {
    # What the status command prints for the array of jobs 1-3 (ids as the stand-in
    # qsub/bsub gave them): task 1 ended by itself, 2 runs, 3 was killed by the
    # scheduler. Formats as in tests/data/pbs and tests/data/lsf.
    "pbs": ("qstat", "qdel", json.dumps({"timestamp": 1, "pbs_version": "2022.1.1",
                                         "pbs_server": "pbs01", "Jobs": {
        "1001[].pbs01": {"job_state": "B"},
        "1001[1].pbs01": {"job_state": "X", "Exit_status": 0},
        "1001[2].pbs01": {"job_state": "R"},
        "1001[3].pbs01": {"job_state": "X", "Exit_status": 271,
                          "comment": "job killed: walltime 610 exceeded limit 600"}}}),
        "PBS state X (Exit_status=271; job killed: walltime 610 exceeded limit 600)"),
    "lsf": ("bjobs", "bkill", json.dumps({"COMMAND": "bjobs", "JOBS": 3, "RECORDS": [
        {"JOBID": "2001", "JOBINDEX": "1", "STAT": "DONE", "EXIT_CODE": "", "EXIT_REASON": ""},
        {"JOBID": "2001", "JOBINDEX": "2", "STAT": "RUN", "EXIT_CODE": "", "EXIT_REASON": ""},
        {"JOBID": "2001", "JOBINDEX": "3", "STAT": "EXIT", "EXIT_CODE": "140",
         "EXIT_REASON": "TERM_RUNLIMIT: job killed after reaching LSF run time limit"}]}),
        "LSF state EXIT (exit_code=140; exit_reason=TERM_RUNLIMIT: job killed after "
        "reaching LSF run time limit)"),
}


@pytest.mark.parametrize("kind", list(POLL_ANSWERS))
def test_a_poll_and_a_cancel_through_the_batch_layer(stand_in, kind, tmp_path):
    status_program, cancel_program, answer, killed_reason = POLL_ANSWERS[kind]
    iface, bin_dir = stand_in(kind)
    _answering(bin_dir, status_program)
    _answering(bin_dir, cancel_program)
    (bin_dir / f"{status_program}.out").write_text(answer)
    assert iface.submit_jobs(_jobs(1, 2, 3)) == {JobId(str(i)): None
                                                          for i in (1, 2, 3)}
    ((_, script),) = _calls(bin_dir)
    _run_task(iface, script, kind, "1", tmp_path)  # task 1 really ran, and ended
    ids = [JobId("1"), JobId("2"), JobId("3")]
    statuses = iface.get_job_statuses(ids)
    assert statuses == {JobId("1"): JobStatus.COMPLETED, JobId("2"): JobStatus.RUNNING,
                        JobId("3"): JobStatus.FAILED}
    assert iface.get_job_output(JobId("1")) == 2.0
    assert iface.failure_reason(JobId("3")).startswith(killed_reason)
    # ONE status command for the poll (and the read of the ended jobs' files).
    args = (bin_dir / f"{status_program}.args").read_text().split("--\n")
    assert len([a for a in args if a.strip()]) == 1
    # Cancel: the running one with one call of the cancel program; the ended ones refused.
    outcomes = iface.cancel_jobs(ids)
    assert outcomes[JobId("2")] is None
    assert isinstance(outcomes[JobId("1")], Exception)
    cancels = [a.split() for a in (bin_dir / f"{cancel_program}.args").read_text()
               .split("--\n") if a.strip()]
    assert cancels == [[EXPECTED_TASK_IDS[kind][1]]]
    assert iface.get_job_status(JobId("2")) is JobStatus.CANCELLED
    assert (Path(iface.workspace, "2") / jobdir.CANCELLED_FILE).exists()


def test_a_pbs_status_answer_naming_purged_ids_is_not_unreachable(stand_in):
    # qstat exits non-zero when some ids are past the server's history, listing the
    # others: an answer (the missing ones are gone), not an unreachable server; a
    # refused connection is unreachable, never "jobs gone".
    iface, bin_dir = stand_in("pbs")
    _answering(bin_dir, "qstat")
    assert iface.submit_jobs(_jobs(1, 2)) == {JobId("1"): None, JobId("2"): None}
    (bin_dir / "qstat.out").write_text(json.dumps(
        {"Jobs": {"1001[2].pbs01": {"job_state": "R"}}}))
    (bin_dir / "qstat.err").write_text("qstat: Unknown Job Id 1001[1].pbs01\n")
    (bin_dir / "qstat.rc").write_text("35\n")
    statuses = iface.get_job_statuses([JobId("1"), JobId("2")])
    # Job 2 runs; job 1 is gone without having started: within the files grace it is
    # what its files say (never started: Submitted), not Failed, and not unreachable.
    assert statuses == {JobId("1"): JobStatus.SUBMITTED, JobId("2"): JobStatus.RUNNING}
    assert iface.health.state == HEALTH_OK
    (bin_dir / "qstat.out").write_text("")
    (bin_dir / "qstat.err").write_text("Connection refused\n"
                                       "qstat: cannot connect to server pbs01 (errno=15010)\n")
    (bin_dir / "qstat.rc").write_text("1\n")
    with pytest.raises(HostUnreachableError, match="cannot reach PBS"):
        iface.get_job_statuses([JobId("1"), JobId("2")])
    assert iface.health.state == HEALTH_UNREACHABLE


# ---- reviewer's findings: unreadable answers, PBS lookups, Eqw, LSF, submit ids


GOOD_STATUS = {
    # kind: (status program, an answer listing the array of jobs 1-3 (ids as the
    # stand-in submit programs give them), the statuses it gives)
    "pbs": ("qstat", json.dumps({"timestamp": 1, "pbs_server": "pbs01", "Jobs": {
        f"1001[{i}].pbs01": {"job_state": "R"} for i in (1, 2, 3)}}, indent=4),
        [JobStatus.RUNNING] * 3),
    "lsf": ("bjobs", json.dumps({"COMMAND": "bjobs", "JOBS": 3, "RECORDS": [
        {"JOBID": "2001", "JOBINDEX": str(i), "STAT": "RUN", "EXIT_CODE": "",
         "EXIT_REASON": ""} for i in (1, 2, 3)]}, indent=4),
        [JobStatus.RUNNING] * 3),
    # The real qstat -xml of this machine: 61.1 r, 61.2 t, 61.3 qw (and others).
    "sge": ("qstat", (DATA / "sge" / "dialect_qstat_pending.xml").read_text(),
            [JobStatus.RUNNING, JobStatus.RUNNING, JobStatus.SUBMITTED]),
}


@pytest.mark.parametrize("kind", list(GOOD_STATUS))
def test_an_unreadable_status_answer_is_no_answer_never_every_job_gone(stand_in, kind):
    # A status output cut short (a dropped connection, a full disk on the login node):
    # the jobs keep their status and the interface says why; before, the parser's empty
    # answer made every job "gone" and, after files_grace, Failed.
    program, good, expected = GOOD_STATUS[kind]
    iface, bin_dir = stand_in(kind)
    _answering(bin_dir, program)
    _answering(bin_dir, "qacct")  # Grid Engine's accounting: nothing (never reached)
    iface.files_grace = 0.0
    ids = [JobId("1"), JobId("2"), JobId("3")]
    assert iface.submit_jobs(_jobs(1, 2, 3)) == {i: None for i in ids}
    (Path(iface.workspace, "1") / jobdir.STARTED_MARKER).mkdir()  # its wrapper runs
    (bin_dir / f"{program}.out").write_text(good)
    assert list(iface.get_job_statuses(ids).values()) == expected
    for cut in (good[: len(good) // 2], good[:-3], "\x00\x1f garbled"):
        (bin_dir / f"{program}.out").write_text(cut)
        with pytest.raises(HostUnreachableError, match=f"unreadable {program} output"):
            iface.get_job_statuses(ids)
        assert iface.health.state == HEALTH_DEGRADED
        assert "jobs keep their last known status" in iface.health.message
    (bin_dir / f"{program}.out").write_text(good)
    assert list(iface.get_job_statuses(ids).values()) == expected
    assert iface.health.state == HEALTH_OK


def _pbs_qstat(bin_dir: Path, listing: dict, known: dict) -> None:
    """A stand-in PBS qstat: a status call (``-t``) prints ``listing``; ``qstat -x -f -F
    json ID`` prints ID's record from ``known``, or "Unknown Job Id" (exit 35)."""
    d = bin_dir / "pbs"
    d.mkdir()
    (d / "listing.json").write_text(json.dumps({"Jobs": listing}))
    cases = ""
    for sched_id, job in known.items():
        (d / f"{sched_id}.json").write_text(json.dumps({"Jobs": {sched_id: job}}))
        cases += f'    {shlex.quote(sched_id)}) cat {shlex.quote(str(d / sched_id))}.json ;;\n'
    script = bin_dir / "qstat"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$*" >> {shlex.quote(str(d))}/calls\n'
        f'case " $* " in *" -t "*) cat {shlex.quote(str(d))}/listing.json; exit 0 ;; esac\n'
        'eval "last=\\${$#}"\n'
        'case $last in\n' + cases +
        '    *) echo "qstat: Unknown Job Id $last" >&2; exit 35 ;;\nesac\n')
    script.chmod(0o755)


def test_pbs_ids_missing_from_a_listing_are_asked_about_one_by_one(stand_in):
    # qstat naming several ids may list only the first (OpenPBS issue #2672): a job
    # missing from the listing is asked about alone; only "Unknown Job Id" means gone.
    iface, bin_dir = stand_in("pbs")
    _pbs_qstat(bin_dir, listing={"1001[2].pbs01": {"job_state": "R"}},
               known={"1001[1].pbs01": {"job_state": "R"}})
    iface.files_grace = 0.0
    ids = [JobId("1"), JobId("2"), JobId("3")]
    assert iface.submit_jobs(_jobs(1, 2, 3)) == {i: None for i in ids}
    for i in ids:
        (Path(iface.workspace, str(i)) / jobdir.STARTED_MARKER).mkdir()
    statuses = iface.get_job_statuses(ids)
    assert statuses == {JobId("1"): JobStatus.RUNNING, JobId("2"): JobStatus.RUNNING,
                        JobId("3"): JobStatus.FAILED}
    assert "left the PBS queue without recording an exit code" in \
        iface.failure_reason(JobId("3"))
    calls = (bin_dir / "pbs" / "calls").read_text().splitlines()
    assert calls == ["-f -F json -x -t 1001[].pbs01", "-x -f -F json 1001[1].pbs01",
                     "-x -f -F json 1001[3].pbs01"]


def test_pbs_json_whose_jobs_are_not_an_object_is_unreadable():
    with pytest.raises(UnreadableOutputError, match="Jobs"):
        parse_qstat_json(json.dumps({"Jobs": ["1.s"]}))
    with pytest.raises(UnreadableOutputError):
        parse_qstat_json('{"Jobs": {"1.s": {"job_state": "R"}')  # cut short
    # Nothing, or only "Unknown Job Id": no rows (the lookup then says which are gone).
    assert parse_qstat_json("") == {}
    assert parse_qstat_json("qstat: Unknown Job Id 4.s\n") == {}
    # stderr merged after the document is not part of it.
    assert parse_qstat_json('{"Jobs": {"1.s": {"job_state": "R"}}}\nqstat: warning\n') == {
        "1.s": ("R", "")}


def test_lsf_no_job_found_is_an_empty_answer_and_zombi_runs_until_exit(stand_in):
    iface, bin_dir = stand_in("lsf")
    _answering(bin_dir, "bjobs")
    ids = [JobId("1"), JobId("2")]
    assert iface.submit_jobs(_jobs(1, 2)) == {i: None for i in ids}
    # Every job purged (CLEAN_PERIOD): bjobs says so and exits 255; an answer, and the
    # jobs' files decide (never started, within the files grace: Submitted).
    (bin_dir / "bjobs.err").write_text("No job found\n")
    (bin_dir / "bjobs.rc").write_text("255\n")
    assert iface.get_job_statuses(ids) == {i: JobStatus.SUBMITTED for i in ids}
    assert iface.health.state == HEALTH_OK
    # ZOMBI: killed while its host was unreachable, it may still run there.
    (bin_dir / "bjobs.err").write_text("")
    (bin_dir / "bjobs.rc").write_text("0\n")
    (bin_dir / "bjobs.out").write_text(json.dumps({"RECORDS": [
        {"JOBID": "2001", "JOBINDEX": "1", "STAT": "ZOMBI", "EXIT_CODE": "",
         "EXIT_REASON": ""},
        {"JOBID": "2001", "JOBINDEX": "2", "STAT": "RUN"}]}))
    assert iface.get_job_statuses(ids) == {i: JobStatus.RUNNING for i in ids}
    assert not LSF.killed(("ZOMBI", ""))
    # Only LSF's own TERM_ reasons mean LSF ended it.
    assert LSF.killed(("EXIT", "exit_code=130; exit_reason=TERM_OWNER: job killed by owner"))
    assert not LSF.killed(("EXIT", "exit_code=3; exit_reason=Exited with exit code 3"))


def test_a_submit_answer_that_is_no_job_id_is_refused(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    qsub = bin_dir / "qsub"
    qsub.write_text("#!/bin/sh\ncat > /dev/null\necho '1002 warning: quota almost full'\n")
    qsub.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    iface = PBSInterface("hpc", 1, SUM, tmp_path / "work", runner=LocalRunner())
    error = iface.submit_jobs(_jobs(1))[JobId("1")]
    assert isinstance(error, RuntimeError)
    assert "answered a job id simjobs cannot read ('1002 warning: quota almost full')" \
        in str(error)


def test_an_sge_workspace_with_a_comma_is_refused_in_one_line(tmp_path):
    with pytest.raises(ValueError) as info:
        SGEInterface("grid", 1, SUM, tmp_path / "a,b")
    assert "\n" not in str(info.value) and "','" in str(info.value)
    assert "choose another directory" in str(info.value)
    assert not (tmp_path / "a,b").exists()


def test_missing_sge_accounting_is_asked_again_after_a_while(stand_in):
    # qacct "can't open" the accounting file: not asked at every poll, but not given up
    # for the process's life either (an administrator may turn accounting on).
    iface, bin_dir = stand_in("sge")
    _answering(bin_dir, "qstat")
    _answering(bin_dir, "qacct")
    (bin_dir / "qstat.out").write_text((DATA / "sge" / "qstat-xml-empty.xml").read_text())
    (bin_dir / "qacct.err").write_text("error: can't open accounting file\n")
    (bin_dir / "qacct.rc").write_text("1\n")
    iface.files_grace = 0.0
    iface.accounting_retry = 3600.0

    def qacct_calls() -> int:
        path = bin_dir / "qacct.args"
        return path.read_text().count("--\n") if path.exists() else 0

    asked = []
    for job in (1, 2):
        assert iface.submit_jobs(_jobs(job)) == {JobId(str(job)): None}
        (Path(iface.workspace, str(job)) / jobdir.STARTED_MARKER).mkdir()
        assert iface.get_job_status(JobId(str(job))) is JobStatus.FAILED
        asked.append(qacct_calls())
    assert asked[0] > 0 and asked[1] == asked[0]  # not at every poll
    iface.accounting_retry = 0.0  # as if the while had passed
    assert iface.submit_jobs(_jobs(3)) == {JobId("3"): None}
    (Path(iface.workspace, "3") / jobdir.STARTED_MARKER).mkdir()
    assert iface.get_job_status(JobId("3")) is JobStatus.FAILED
    assert qacct_calls() > asked[1]  # asked again


def test_an_sge_job_in_error_is_settled_failed_and_deleted_in_the_same_poll(stand_in):
    # Eqw: Grid Engine keeps it queued until deleted, and an administrator clearing the
    # error (qmod -cj) would run it long after simjobs called it Failed; it also holds a
    # place of max_u_jobs. simjobs writes the cancelled marker and qdels it at once.
    iface, bin_dir = stand_in("sge")
    _answering(bin_dir, "qstat")
    _answering(bin_dir, "qdel")
    assert iface.submit_jobs(_jobs(4)) == {JobId("4"): None}  # Grid Engine job 62
    mixed = (DATA / "sge" / "dialect_qstat_mixed.xml").read_text()
    (bin_dir / "qstat.out").write_text(mixed.replace("<JB_job_number>51<",
                                                     "<JB_job_number>62<"))
    assert iface.get_job_status(JobId("4")) is JobStatus.FAILED
    assert iface.failure_reason(JobId("4")).startswith("Grid Engine state Eqw (in error")
    assert (Path(iface.workspace, "4") / jobdir.CANCELLED_FILE).exists()
    qdels = [a.split() for a in (bin_dir / "qdel.args").read_text().split("--\n")
             if a.strip()]
    assert qdels == [["62"]]
    # Settled: later polls neither ask nor qdel again, and the reason stays.
    assert iface.get_job_status(JobId("4")) is JobStatus.FAILED
    assert (bin_dir / "qdel.args").read_text().count("--\n") == 1
    assert iface.failure_reason(JobId("4")).startswith("Grid Engine state Eqw")


def test_sge_accounting_of_jobs_it_submitted_is_one_scan_from_their_submit(stand_in):
    # Purged jobs this process submitted: ONE qacct reading the accounting file once,
    # for the user's jobs that ended since the earliest submit (less an hour of clock
    # skew), not one qacct -j per job.
    iface, bin_dir = stand_in("sge")
    _answering(bin_dir, "qstat")
    _answering(bin_dir, "qacct")
    (bin_dir / "qstat.out").write_text((DATA / "sge" / "qstat-xml-empty.xml").read_text())
    iface.files_grace = 0.0
    ids = [JobId("1"), JobId("2")]
    before = time.time()
    assert iface.submit_jobs(_jobs(1, 2)) == {i: None for i in ids}
    after = time.time()
    for job in ("1", "2"):
        (Path(iface.workspace, job) / jobdir.STARTED_MARKER).mkdir()
    assert set(iface.get_job_statuses(ids).values()) == {JobStatus.FAILED}
    calls = [a.split() for a in (bin_dir / "qacct.args").read_text().split("--\n")
             if a.strip()]

    def qacct_time(epoch: float) -> str:
        return subprocess.run(["date", "-d", f"@{int(epoch) - 3600}", "+%Y%m%d%H%M.%S"],
                              capture_output=True, text=True, check=True).stdout.strip()

    user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    ((*options, begin, last),) = calls
    assert options == ["-o", user, "-E", "-b"] and last == "-j"
    assert qacct_time(before) <= begin <= qacct_time(after)
