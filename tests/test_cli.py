"""The simjobs command line, run as a real process on real configs, logs and simulators."""

from __future__ import annotations

import io
import json
import os
import signal
import time

import pytest

from helpers import file_states, log_held_open, records_of, sim_command, tree, wait_for
from simjobs.core import Input, JobStatus, SimulationsLog
from simjobs.core.control import manager_holder

pytestmark = pytest.mark.slow


def assert_one_line_error(result, *parts: str, code: int = 2) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("simjobs: error: "), result.stderr
    for part in parts:
        assert part in lines[0], lines[0]


def ok(result):
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result


# ---- submit --------------------------------------------------------------------------


def test_submit_numbers_as_arguments_reaches_the_hardware(cli, make_config, tmp_path):
    config = make_config()
    result = ok(cli("submit", "--config", config, "0.5", "-1.5"))
    (job_id,) = result.stdout.split()
    assert "1 job at level 1 (submitted by this process)" in result.stderr
    assert "no manager runs" in result.stderr
    record = records_of(tmp_path / "runs.csv")[job_id]
    assert record.coords == (0.5, -1.5)
    assert record.status is not JobStatus.PENDING_SUBMIT  # the interface has it
    assert (tmp_path / "work" / "local" / job_id).is_dir()

    # A manager started later records the end of the job.
    ok(cli("run", "--config", config, "--until-done"))
    record = records_of(tmp_path / "runs.csv")[job_id]
    assert (record.status, record.output) == (JobStatus.COMPLETED, -1.0)


def test_submit_several_inputs_as_json(cli, make_config, tmp_path):
    config = make_config()
    result = ok(cli("submit", "--config", config, "--input", "1,2", "--input=-3,4.5", "--json"))
    data = json.loads(result.stdout)
    assert data["level"] == 1 and data["managed_by"] is None
    assert data["interfaces"] == ["local", "local"]
    records = records_of(tmp_path / "runs.csv")
    assert [records[j].coords for j in data["job_ids"]] == [(1.0, 2.0), (-3.0, 4.5)]


def test_submit_takes_a_negative_input_as_written(cli, make_config, tmp_path):
    # `--input -0.5,1` used to fail with argparse's "expected one argument".
    config = make_config()
    ids = ok(cli("submit", "--config", config, "--input", "-0.5,1", "-i", "-.25,-2")).stdout.split()
    records = records_of(tmp_path / "runs.csv")
    assert [records[j].coords for j in ids] == [(-0.5, 1.0), (-0.25, -2.0)]


def test_submit_from_csv_with_a_header_and_exauq_columns(cli, make_config, tmp_path):
    config = make_config()
    (tmp_path / "plain.csv").write_text("x,y\n0.1,0.2\n\n0.3,0.4\n")
    # An exauq log's columns, Input_2 first: the coordinates are taken in Input_k order.
    (tmp_path / "exauq.csv").write_text(
        "Input_2,Input_1,Output,Job_ID\r\n5,6,,1\r\n")
    ids = ok(cli("submit", "--config", config, "--csv", "plain.csv")).stdout.split()
    ids += ok(cli("submit", "--config", config, "--csv", "exauq.csv")).stdout.split()
    records = records_of(tmp_path / "runs.csv")
    assert [records[j].coords for j in ids] == [(0.1, 0.2), (0.3, 0.4), (6.0, 5.0)]


@pytest.mark.parametrize("content, expected", [
    ("x,y\n0.1,0.2\n0.3,abc\n", "line 3 of inputs.csv, column 2: 'abc' is not a number"),
    ("0.1,0.2\n0.3\n", "line 2 of inputs.csv: 1 value where inputs have 2 coordinates"),
    ("0.1,0.2\n0.3,nan\n", "line 2 of inputs.csv, column 2: 'nan' is not finite"),
    ("x,y\n", "inputs.csv holds no inputs"),
])
def test_submit_csv_names_the_bad_line_and_submits_nothing(cli, make_config, tmp_path,
                                                           content, expected):
    config = make_config()
    (tmp_path / "inputs.csv").write_text(content)
    before = tree(tmp_path)
    assert_one_line_error(cli("submit", "--config", config, "--csv", "inputs.csv"), expected)
    assert tree(tmp_path) == before  # no log, no workspace: nothing was submitted


@pytest.mark.parametrize("args, expected", [
    (["1"], "input: 1 coordinate, but the log's inputs have 2"),
    (["1", "x"], "input: 'x' is not a number"),
    (["1", "inf"], "'inf' is not finite"),
    (["--input", "1,2", "--input", "3"], "--input '3': 1 coordinate"),
    (["--level", "2", "1", "2"], "no interface serves level 2"),
    ([], "no input given"),
    (["--level", "one", "1", "2"], "argument --level/-l: invalid int value: 'one'"),
])
def test_submit_rejects_bad_input_before_anything(cli, make_config, tmp_path, args, expected):
    config = make_config()
    before = tree(tmp_path)
    result = cli("submit", "--config", config, *args)
    assert_one_line_error(result, expected)
    assert "Traceback" not in result.stderr
    assert tree(tmp_path) == before


def test_a_bad_config_is_one_line_and_exit_2(cli, make_config, tmp_path):
    config = make_config(interfaces=[{"name": "a", "level": 1, "command": "no-such-sim-xyz"}])
    assert_one_line_error(cli("submit", "--config", config, "1", "2"),
                          "interfaces[0].command: 'no-such-sim-xyz' was not found on PATH")
    assert_one_line_error(cli("status", "--config", "missing.toml"),
                          "missing.toml: no such config file")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert_one_line_error(cli("status", cwd=elsewhere), "no config file: pass --config FILE")


def test_config_is_found_in_the_working_directory(cli, make_config):
    make_config("simjobs.toml")
    result = ok(cli("status", "--json"))
    assert json.loads(result.stdout) == []


def test_version_and_usage_errors(cli):
    result = ok(cli("--version"))
    assert result.stdout.strip().startswith("simjobs ")
    assert_one_line_error(cli("frobnicate"), "invalid choice: 'frobnicate'")


# ---- status / show ------------------------------------------------------------------------


@pytest.fixture
def seeded(tmp_path, make_config):
    """A config with two interfaces and a log holding one job of most statuses."""
    config = make_config(interfaces=[
        {"name": "local", "level": 1, "command": sim_command("sum.py")},
        {"name": "other", "level": 2, "command": sim_command("sum.py"), "max_jobs": 2},
    ])
    rows = [
        ("1", JobStatus.COMPLETED, 1, "local", 3.0),
        ("2", JobStatus.FAILED, 1, "local", None),
        ("3", JobStatus.RUNNING, 2, "other", None),
        ("4", JobStatus.PENDING_SUBMIT, 1, "local", None),
        ("5", JobStatus.CANCELLED, 2, "other", None),
        ("6", JobStatus.COMPLETED, 2, "other", 1.0),
    ]
    with SimulationsLog(tmp_path / "runs.csv", 2) as log:
        for job_id, status, level, interface, output in rows:
            log.add_new_record(Input(float(job_id), 0.5), job_id, status, level, interface)
            if output is not None:
                log.insert_result(job_id, output)
    return config


def status_ids(cli, config, *args) -> list[str]:
    result = ok(cli("status", "--config", config, "--json", *args))
    return [r["job_id"] for r in json.loads(result.stdout)]


@pytest.mark.parametrize("args, expected", [
    ([], ["1", "2", "3", "4", "5", "6"]),
    (["-s", "completed"], ["1", "6"]),
    (["-s", "Pending submit"], ["4"]),
    (["-s", "pending-submit"], ["4"]),
    (["--status", "PENDING_SUBMIT"], ["4"]),
    (["-s", "failed,Cancelled"], ["2", "5"]),
    (["-s", "failed", "-s", "cancelled"], ["2", "5"]),
    (["-S", "completed"], ["2", "3", "4", "5"]),
    (["-S", "completed", "-S", "running,failed"], ["4", "5"]),
    (["--level", "2"], ["3", "5", "6"]),
    (["--interface", "local"], ["1", "2", "4"]),
    (["-r", "true"], ["1", "6"]),
    (["--has-result", "false"], ["2", "3", "4", "5"]),
    (["-x"], ["2", "5"]),
    (["-n", "2"], ["5", "6"]),
    (["-n", "2", "-s", "completed,failed"], ["2", "6"]),
    (["-n", "1", "-a"], ["1", "2", "3", "4", "5", "6"]),
    (["5", "2"], ["2", "5"]),
    (["2", "5", "-s", "failed"], ["2"]),
    (["--level", "1", "-x"], ["2"]),
])
def test_status_filters(cli, seeded, args, expected):
    assert status_ids(cli, seeded, *args) == expected


def test_status_json_has_every_field(cli, seeded):
    (record,) = json.loads(ok(cli("show", "--config", seeded, "--json", "1")).stdout)
    assert record["job_id"] == "1" and record["status"] == "Completed"
    assert record["input"] == [1.0, 0.5] and record["output"] == 3.0
    assert record["level"] == 1 and record["interface_name"] == "local"
    assert set(record) >= {"created", "changed", "reason", "resubmit_of", "resubmitted_as",
                           "history"}
    assert record["history"][0][0] == "Completed"


def test_status_table_and_default_last_50(cli, seeded, tmp_path):
    result = ok(cli("status", "--config", seeded))
    for text in ("job id", "Completed", "Pending submit", "6 matching jobs (6 in the log)",
                 "no manager runs"):
        assert text in result.stdout, result.stdout
    with SimulationsLog(tmp_path / "runs.csv", 2) as log:
        for n in range(100, 160):
            log.add_new_record(Input(0.0, 0.0), str(n), JobStatus.COMPLETED)
    assert len(status_ids(cli, seeded)) == 50
    assert "50 of 66 matching jobs (66 in the log); -a shows all" in ok(
        cli("status", "--config", seeded)).stdout
    assert len(status_ids(cli, seeded, "-a")) == 66


def test_status_errors(cli, seeded):
    assert_one_line_error(cli("status", "--config", seeded, "2", "99", "98"),
                          "unknown job ids: 99, 98")
    assert_one_line_error(cli("status", "--config", seeded, "abc"), "not a job id")
    assert_one_line_error(cli("status", "--config", seeded, "-s", "done"),
                          "--status: unknown status 'done'; use one of: completed")
    assert_one_line_error(cli("status", "--config", seeded, "-r", "maybe"),
                          "expected true or false")


def test_status_reads_a_log_without_a_config(cli, seeded, tmp_path):
    result = ok(cli("status", "--log", tmp_path / "runs.csv", "--json", "-s", "running"))
    assert [r["job_id"] for r in json.loads(result.stdout)] == ["3"]
    assert_one_line_error(cli("status", "--log", tmp_path / "nope.csv"),
                          "no simulations log at")


@pytest.mark.parametrize("name, content, expected", [
    ("a-dir", None, "a-dir is a directory, not a simulations log; name the log file"),
    ("binary.csv", bytes(range(256)) * 4, "binary.csv is a binary file, not a simulations log"),
    ("latin1.csv", "Input_1,Entrée\r\n".encode("latin-1"),
     "latin1.csv: the first line is not UTF-8 text, so it is not a simulations log"),
    ("fake.db", b"not a database\n", "fake.db is not an SQLite database"),
    ("fifo.csv", "fifo", "fifo.csv is not a regular file"),
    ("missing.csv", "", "no simulations log at"),
], ids=["directory", "binary", "latin-1", "not-sqlite", "fifo", "missing"])
def test_a_log_path_that_is_no_log_is_a_one_line_error(cli, tmp_path, name, content, expected):
    path = tmp_path / name
    if content is None:
        path.mkdir()
    elif content == "fifo":
        os.mkfifo(path)  # reading it would block: refused without opening it
    elif content:
        path.write_bytes(content)
    for command in (["status"], ["export", "out.csv"], ["interfaces"]):
        result = cli(*command, "--log", path, timeout=30)
        assert_one_line_error(result, expected)
        for raw in ("Errno", "codec", "Traceback", "Error:"):
            assert raw not in result.stderr, result.stderr
    assert not (tmp_path / "out.csv").exists()


def test_log_errors_name_the_problem_and_the_fix(cli, make_config, tmp_path):
    assert_one_line_error(cli("status", "--log", "/tmp"),
                          "/tmp is a directory, not a simulations log; name the log file")
    # The config's log: the same one-line errors, and nothing is created or changed.
    (tmp_path / "logs").mkdir()
    assert_one_line_error(cli("status", "--config", make_config(log="logs")),
                          "'logs' is a directory")
    (tmp_path / "runs.csv").write_bytes(bytes(range(256)) * 4)
    config = make_config()
    before = file_states(tmp_path)
    for args in (["status"], ["submit", "1", "2"], ["cancel", "1"], ["run", "--until-done"]):
        assert_one_line_error(cli(*args, "--config", config),
                              "runs.csv is a binary file, not a simulations log")
    assert file_states(tmp_path) == before
    assert_one_line_error(cli("status", "--config", tmp_path),
                          "is a directory, not a config file; pass the TOML file")


def test_a_warning_is_one_simjobs_line(cli, make_config, tmp_path):
    config = make_config()
    (tmp_path / "runs.csv").write_bytes(
        b"Input_1,Input_2,Output,Job_ID,Job_Status,Job_Level,Interface_Name\r\n"
        b"1.0,2.0,3.0,1,Completed,1,local\r\n4.0,5.0,,2,Compl")  # a write cut short
    result = ok(cli("run", "--config", config, "--until-done"))
    (line,) = [line for line in result.stderr.splitlines() if "warning" in line.lower()]
    assert line.startswith("simjobs: warning: "), result.stderr
    assert "dropped an incomplete last line" in line and "'4.0,5.0,,2,Compl'" in line
    for python_format in ("UserWarning", ".py:", "warnings.warn", "return "):
        assert python_format not in result.stderr, result.stderr
    assert list(records_of(tmp_path / "runs.csv")) == ["1"]


# ---- export -------------------------------------------------------------------------------


def test_export_csv_in_exauq_format_plus_extras(cli, seeded, tmp_path):
    ok(cli("export", "--config", seeded, "out.csv"))
    data = (tmp_path / "out.csv").read_bytes().decode()
    lines = data.split("\r\n")
    assert lines[0] == ("Input_1,Input_2,Output,Job_ID,Job_Status,Job_Level,Interface_Name,"
                        "Created,Changed,Reason,Resubmit_Of,Resubmitted_As")
    assert len([line for line in lines if line]) == 7
    assert lines[1].startswith("1.0,0.5,3.0,1,Completed,1,local,")
    assert lines[2].startswith("2.0,0.5,,2,Failed,1,local,")
    created = lines[1].split(",")[7]
    assert created[:4].isdigit() and "T" in created  # ISO 8601
    assert created.endswith("+00:00")  # in UTC

    before = (tmp_path / "out.csv").read_bytes()
    assert_one_line_error(cli("export", "--config", seeded, "out.csv"),
                          "out.csv exists; pass --force to overwrite it")
    assert (tmp_path / "out.csv").read_bytes() == before

    ok(cli("export", "--config", seeded, "out.csv", "--force", "-s", "completed"))
    rows = [line for line in (tmp_path / "out.csv").read_text().splitlines() if line]
    assert [row.split(",")[3] for row in rows[1:]] == ["1", "6"]
    assert not [p for p in tree(tmp_path) if p.endswith(".tmp")]


def test_export_json_and_formats(cli, seeded, tmp_path):
    ok(cli("export", "--config", seeded, "out.json", "--level", "2"))
    records = json.loads((tmp_path / "out.json").read_text())
    assert [r["job_id"] for r in records] == ["3", "5", "6"]
    assert records[2]["output"] == 1.0 and records[2]["history"]

    assert_one_line_error(cli("export", "--config", seeded, "out.txt"),
                          "cannot tell the format", "--format csv")
    ok(cli("export", "--config", seeded, "out.txt", "--format", "json", "-n", "1"))
    assert [r["job_id"] for r in json.loads((tmp_path / "out.txt").read_text())] == ["6"]
    ok(cli("export", "--log", tmp_path / "runs.csv", "all.csv"))
    assert (tmp_path / "all.csv").read_text().count("\n") == 7


# ---- interfaces ------------------------------------------------------------------------------


def test_interfaces_lists_config_and_active_jobs(cli, seeded):
    data = json.loads(ok(cli("interfaces", "--config", seeded, "--json")).stdout)
    rows = {row["name"]: row for row in data["interfaces"]}
    assert rows["local"]["kind"] == "local" and rows["local"]["level"] == 1
    assert rows["other"]["max_jobs"] == 2 and rows["other"]["level"] == 2
    assert rows["local"]["active"] == 1  # the pending job
    assert rows["other"]["active"] == 1  # the running job
    assert rows["local"]["host"]
    assert data["managed_by"] is None
    table = ok(cli("interfaces", "--config", seeded)).stdout
    assert "local" in table and "other" in table and "max jobs" in table


def test_interfaces_shows_remote_hosts_without_contacting_them(cli, tmp_path):
    key = tmp_path / "id_test"
    key.write_text("not used: nothing is contacted\n")
    config = tmp_path / "remote.toml"
    config.write_text(f"""
[log]
path = "runs.csv"
input_dim = 2

[[interfaces]]
kind = "ssh"
name = "server"
level = 1
host = "sim.example.org"
port = 2200
user = "me"
identity_file = "{key}"
command = "/opt/sim/run"
workspace = "runs"

[[interfaces]]
kind = "slurm"
name = "cluster"
level = 2
command = "/opt/sim/run"
workspace = "/scratch/me"
ssh = {{ host = "login.example.org", identity_files = ["{key}"] }}
""")
    data = json.loads(ok(cli("interfaces", "--config", config, "--json")).stdout)
    rows = {row["name"]: row for row in data["interfaces"]}
    assert rows["server"]["host"] == "me@sim.example.org:2200"
    assert rows["server"]["kind"] == "ssh" and rows["server"]["max_jobs"] is None
    assert rows["cluster"]["host"] == "login.example.org"
    assert rows["cluster"]["kind"] == "slurm" and rows["cluster"]["level"] == 2


# ---- cancel and resubmit ---------------------------------------------------------------------


def gate_config(make_config, max_jobs=2):
    return make_config(interfaces=[
        {"name": "local", "level": 1, "command": sim_command("gate.py"), "max_jobs": max_jobs}])


def test_cancel(cli, make_config, tmp_path, gate):
    config = gate_config(make_config)
    log = tmp_path / "runs.csv"
    first, second = ok(cli("submit", "--config", config, "-i", "1,2", "-i", "3,4")).stdout.split()

    # An unknown id: an error naming it, and nothing is cancelled.
    assert_one_line_error(cli("cancel", "--config", config, first, "12345"),
                          "unknown job id: 12345")
    assert records_of(log)[first].status not in (JobStatus.CANCELLED, JobStatus.PENDING_CANCEL)

    result = ok(cli("cancel", "--config", config, first))
    assert f"{first}: cancelled" in result.stdout
    assert records_of(log)[first].status is JobStatus.CANCELLED
    assert records_of(log)[first].reason

    gate.touch()  # let the second job finish, then record it
    ok(cli("run", "--config", config, "--until-done"))
    assert records_of(log)[second].status is JobStatus.COMPLETED

    result = cli("cancel", "--config", config, first, second, "--json")
    assert result.returncode == 1  # nothing could be cancelled
    data = json.loads(result.stdout)
    assert data["cancelled"] == []
    assert data["skipped"] == {first: "Cancelled", second: "Completed"}
    result = cli("cancel", "--config", config, second)
    assert result.returncode == 1 and f"{second}: skipped, already Completed" in result.stdout


def test_cancel_of_ended_jobs_starts_no_manager(cli, make_config, tmp_path, gate):
    config = gate_config(make_config)
    log = tmp_path / "runs.csv"
    with SimulationsLog(log, 2) as simulations:
        simulations.add_new_record(Input(1.0, 1.0), "1", JobStatus.COMPLETED, 1, "local")
        simulations.add_new_record(Input(2.0, 2.0), "2", JobStatus.CANCELLED, 1, "local")
        # Not ended: a manager would resume it, submit it and create its job directory.
        simulations.add_new_record(Input(3.0, 3.0), "3", JobStatus.PENDING_SUBMIT, 1, "local")
    (tmp_path / "runs.csv.lock").unlink()
    before = file_states(tmp_path)

    result = cli("cancel", "--config", config, "1", "2")
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == ["1: skipped, already Completed",
                                          "2: skipped, already Cancelled"]
    result = cli("cancel", "--config", config, "2", "1", "--json")
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout) == {"cancelled": [], "final": {}, "managed_by": None,
                                         "skipped": {"2": "Cancelled", "1": "Completed"}}
    assert file_states(tmp_path) == before  # bytes and mtimes; no lock file, no job run
    assert not (tmp_path / "runs.csv.lock").exists()

    # With one job still going among them, a manager acts.
    result = ok(cli("cancel", "--config", config, "1", "3"))
    assert "3: cancelled" in result.stdout and "1: skipped, already Completed" in result.stdout
    assert records_of(log)["3"].status is JobStatus.CANCELLED


def test_resubmit(cli, make_config, tmp_path):
    config = make_config(interfaces=[
        {"name": "flaky", "level": 2, "command": sim_command("fail.sh")},
        {"name": "good", "level": 1, "command": sim_command("sum.py")},
    ])
    log = tmp_path / "runs.csv"
    bad1, bad2 = ok(cli("submit", "--config", config, "-l", "2", "-i", "1,2", "-i", "3,4")).stdout.split()
    (good,) = ok(cli("submit", "--config", config, "1", "1")).stdout.split()
    ok(cli("run", "--config", config, "--until-done"))
    assert records_of(log)[bad1].status is JobStatus.FAILED

    assert_one_line_error(cli("resubmit", "--config", config), "name job ids or a filter")
    assert_one_line_error(cli("resubmit", "--config", config, good),
                          f"job {good} is Completed: only failed")
    assert_one_line_error(cli("resubmit", "--config", config, "999"), "unknown job id: 999")

    result = ok(cli("resubmit", "--config", config, bad1))
    ((old, arrow, new),) = [line.split() for line in result.stdout.splitlines()]
    assert (old, arrow) == (bad1, "->")
    records = records_of(log)
    assert records[new].resubmit_of == bad1 and records[bad1].resubmitted_as == [new]
    assert records[new].level == 2 and records[new].coords == (1.0, 2.0)

    # Twice: refused, naming the new job, unless --again; then both links are kept.
    assert_one_line_error(cli("resubmit", "--config", config, bad1),
                          f"job {bad1} was already resubmitted as {new}; add --again")
    assert len(records_of(log)) == len(records)
    result = ok(cli("resubmit", "--config", config, bad1, "--again"))
    ((_, _, newer),) = [line.split() for line in result.stdout.splitlines()]
    records = records_of(log)
    assert records[bad1].resubmitted_as == [new, newer] and records[newer].resubmit_of == bad1

    # A filter picks only failed/cancelled jobs not resubmitted before.
    data = json.loads(ok(cli("resubmit", "--config", config, "-s", "failed", "--json")).stdout)
    olds = [pair[0] for pair in data["pairs"]]
    assert bad2 in olds and bad1 not in olds and good not in olds
    result = ok(cli("resubmit", "--config", config, "-s", "completed"))
    assert "nothing resubmitted" in result.stderr and result.stdout == ""


# ---- a running manager: hand-over ------------------------------------------------------------


def test_commands_hand_over_to_a_running_manager(cli, make_config, tmp_path, background_run):
    config = make_config()
    log = tmp_path / "runs.csv"
    proc = background_run(config)
    holder = wait_for(lambda: manager_holder(str(log)), timeout=30, message="manager up")
    assert holder["pid"] == proc.pid

    started = time.monotonic()
    result = ok(cli("submit", "--config", config, "-i", "1,2", "-i", "3,4", "--json"))
    assert time.monotonic() - started < 10
    data = json.loads(result.stdout)
    assert data["managed_by"]["pid"] == proc.pid
    assert f"handed to the manager, pid {proc.pid}" in result.stderr
    ids = data["job_ids"]

    def completed():
        records = records_of(log)
        return all(j in records and records[j].status is JobStatus.COMPLETED for j in ids)

    wait_for(completed, timeout=30, message="the running manager completes the jobs")
    assert [records_of(log)[j].output for j in ids] == [3.0, 7.0]

    # A second manager on the same log is refused, naming the holder.
    assert_one_line_error(cli("run", "--config", config), f"pid {proc.pid}", code=1)
    assert "managed by pid" in ok(cli("status", "--config", config)).stdout
    assert json.loads(ok(cli("interfaces", "--config", config, "--json")).stdout)[
        "managed_by"]["pid"] == proc.pid
    result = cli("cancel", "--config", config, ids[0])
    assert result.returncode == 1 and "skipped, already Completed" in result.stdout

    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert manager_holder(str(log)) is None
    for job_id in ids:
        assert f"job {job_id} level 1 local: Pending submit -> Submitted" in out
        assert f"job {job_id} level 1 local:" in out and "-> Completed" in out
    assert "2 of 2 jobs done" in out


def test_cancel_hands_over_to_a_running_manager(cli, make_config, tmp_path, background_run, gate):
    config = gate_config(make_config)
    log = tmp_path / "runs.csv"
    proc = background_run(config)
    wait_for(lambda: manager_holder(str(log)), timeout=30, message="manager up")
    (job_id,) = ok(cli("submit", "--config", config, "1", "2")).stdout.split()
    wait_for(lambda: records_of(log)[job_id].status is JobStatus.RUNNING, timeout=30)

    result = ok(cli("cancel", "--config", config, job_id))
    assert f"{job_id}: cancelling (handed to the manager, pid {proc.pid}" in result.stdout
    wait_for(lambda: records_of(log)[job_id].status is JobStatus.CANCELLED, timeout=30)

    data = json.loads(ok(cli("resubmit", "--config", config, job_id, "--json")).stdout)
    assert data["managed_by"]["pid"] == proc.pid
    ((old, new),) = data["pairs"]
    assert old == job_id
    wait_for(lambda: new in records_of(log), timeout=10)
    gate.touch()
    wait_for(lambda: records_of(log)[new].status is JobStatus.COMPLETED, timeout=30)


def test_a_log_held_open_by_a_script_fails_at_once(cli, make_config, tmp_path):
    """A process with the log open for writing but no manager in it cannot take
    requests: submit, cancel, resubmit and run say so at once and change nothing."""
    config = make_config()
    log = tmp_path / "runs.csv"
    with SimulationsLog(log, 2) as simulations:
        simulations.add_new_record(Input(1.0, 2.0), "1", JobStatus.FAILED, 1, "local")
        simulations.add_new_record(Input(3.0, 4.0), "2", JobStatus.SUBMITTED, 1, "local")
    with log_held_open(log) as holder:
        assert manager_holder(str(log)) is None  # held, but by no manager
        before = file_states(tmp_path)
        for command, *rest in (["submit", "5", "6"], ["cancel", "2"], ["resubmit", "1"],
                               ["run", "--until-done"]):
            started = time.monotonic()
            result = cli(command, "--config", config, *rest)
            elapsed = time.monotonic() - started
            assert_one_line_error(
                result, f"runs.csv is open for writing in pid {holder.pid} on host",
                "runs no simjobs manager", "close the log there", code=1)
            assert elapsed < 2.5, (command, elapsed)  # not the 30 s hand-over timeout
        assert file_states(tmp_path) == before
    assert not (tmp_path / "runs.csv.inbox").exists() or not list(
        (tmp_path / "runs.csv.inbox").iterdir())


def test_run_until_done_with_nothing_to_do_returns(cli, make_config):
    config = make_config()
    result = ok(cli("run", "--config", config, "--until-done"))
    assert "0 of 0 jobs done" in result.stdout


def test_a_run_that_resumes_jobs_counts_them(cli, make_config, tmp_path):
    from simjobs.interfaces.jobdir import EXIT_CODE_FILE

    config = make_config()
    ids = ok(cli("submit", "--config", config, "-i", "1,2", "-i", "3,4", "-i", "5,6")
             ).stdout.split()
    # The jobs end with no manager running; the next run resumes them and records it.
    wait_for(lambda: all((tmp_path / "work" / "local" / j / EXIT_CODE_FILE).exists() for j in ids),
             timeout=30, message="the jobs end")
    result = ok(cli("run", "--config", config, "--until-done"))
    assert "3 of 3 jobs done" in result.stdout, result.stdout
    assert all(r.status is JobStatus.COMPLETED for r in records_of(tmp_path / "runs.csv").values())


# ---- the live table (run and demo on a terminal) ----------------------------------------


def test_live_progress_table_counts_from_events(make_config, tmp_path):
    import io

    from rich.console import Console

    from simjobs.config import load_config
    from simjobs.core import JobManager
    from simjobs.cli.progress import ProgressView

    config = load_config(make_config(interfaces=[
        {"name": "good", "level": 1, "command": sim_command("sum.py")},
        {"name": "bad", "level": 2, "command": sim_command("fail.sh")},
    ]))
    with SimulationsLog(config.log_path, 2) as log:  # an old job, ended before this session
        log.add_new_record(Input(0.0, 0.0), "1", JobStatus.COMPLETED, 1, "good")
    log = config.open_log()
    manager = JobManager(log, config.build_interfaces(), polling_interval=0.05)
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120, color_system=None)
    try:
        with ProgressView(manager, console, title="test run") as view:
            assert view.live
            manager.submit_many([Input(1.0, 2.0), Input(3.0, 4.0)], level=1)
            manager.submit(Input(5.0, 6.0), level=2)
            assert manager.wait_until_done(timeout=30)
            wait_for(lambda: view.done == 3, timeout=10)
            rendered = io.StringIO()
            Console(file=rendered, width=120, color_system=None).print(view.render())
            table = rendered.getvalue()
    finally:
        manager.shutdown()
        log.close()
    assert "test run" in table and "3/3 done" in table
    # 2 completions within the first seconds: 2 in the last minute, not 60 a minute
    assert "2.0 jobs/min (last 1 min)" in table
    rows = {line.split()[0] + (line.split()[1] if line.startswith("level") else ""): line.split()
            for line in table.splitlines() if line.strip()}
    assert rows["level1"][-1] == "3" and rows["level2"][-1] == "1"  # totals, old job included
    assert rows["good"][-1] == "3" and rows["bad"][-1] == "1"
    assert "Running -> Failed" in table or "Submitted -> Failed" in table
    (failed,) = [line for line in table.splitlines() if "-> Failed" in line]
    assert "exit code 3" in failed  # the reason, on the same one line
    assert view.summary().startswith("3 of 3 jobs done") and "2 Completed, 1 Failed" in view.summary()


def _counts_rows(table: str) -> list[str]:
    """The row labels of a rendered counts table: 'level1', then interface names."""
    lines = table.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[-2:] == ["total", "health"])
    end = next(i for i, line in enumerate(lines) if line.startswith("last changes"))
    return [line.split()[0] + (line.split()[1] if line.startswith("level") else "")
            for line in lines[start + 1:end] if line.strip()]


def test_live_table_interfaces_under_their_level_and_resumed_jobs_counted(make_config):
    from rich.console import Console

    from simjobs.config import load_config
    from simjobs.core import JobManager
    from simjobs.cli.progress import ProgressView

    config = load_config(make_config(interfaces=[
        {"name": "fast", "level": 1, "command": sim_command("sum.py")},
        {"name": "accurate", "level": 2, "command": sim_command("sum.py")},
        {"name": "fast-too", "level": 1, "command": sim_command("sum.py")},
    ]))
    with SimulationsLog(config.log_path, 2) as log:
        # A job of an interface since removed from the config, and three to resume.
        log.add_new_record(Input(0.0, 0.0), "1", JobStatus.COMPLETED, 2, "old-cluster")
        for job_id in ("2", "3", "4"):
            log.add_new_record(Input(1.0, float(job_id)), job_id, JobStatus.PENDING_SUBMIT, 1,
                               "fast")
    log = config.open_log()
    unfinished = {str(job.id) for job in log.get_non_terminated_jobs()}
    manager = JobManager(log, config.build_interfaces(), polling_interval=0.05)
    try:
        assert manager.wait_until_done(timeout=30)  # they end before the view starts
        console = Console(file=io.StringIO(), width=120, color_system=None)
        with ProgressView(manager, console, title="resumed", resumed=unfinished) as view:
            rendered = io.StringIO()
            Console(file=rendered, width=120, color_system=None).print(view.render())
            table = rendered.getvalue()
    finally:
        manager.shutdown()
        log.close()
    assert (view.done, view.total) == (3, 3)
    assert "3/3 done" in table, table
    assert view.summary().startswith("3 of 3 jobs done"), view.summary()
    assert _counts_rows(table) == ["level1", "fast", "fast-too", "level2", "accurate",
                                   "old-cluster"], table


def test_status_never_cuts_job_ids_even_when_narrow(tmp_path):
    """Ids and statuses are what the next command needs: a narrow terminal shortens
    other columns, never these."""
    import os
    import subprocess
    import sys

    from simjobs import Input, JobStatus, SimulationsLog

    path = tmp_path / "runs.csv"
    log = SimulationsLog(path, 3)
    ids = [f"2024060112000000{i}" for i in range(3)]
    for i, job_id in enumerate(ids):
        log.add_new_record(Input(0.123456789, 0.987654321, i), job_id, JobStatus.PENDING_CANCEL,
                           interface_name="a-rather-long-interface-name")
    log.close()
    out = subprocess.run(
        ["script", "-qc", f"{sys.executable} -m simjobs status --log {path}", "/dev/null"],
        capture_output=True, text=True, timeout=60, env=dict(os.environ, COLUMNS="60"))
    for job_id in ids:
        assert job_id in out.stdout, out.stdout
    assert "Pending cancel" in out.stdout


def test_submit_csv_takes_a_bom_and_comments_like_the_app(cli, make_config, tmp_path):
    config = make_config()
    (tmp_path / "inputs.csv").write_bytes("\ufeffx,y\n# first point\n0.1,0.2\n".encode())
    ids = ok(cli("submit", "--config", config, "--csv", "inputs.csv")).stdout.split()
    assert [records_of(tmp_path / "runs.csv")[j].coords for j in ids] == [(0.1, 0.2)]
