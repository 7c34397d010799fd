"""``simjobs app``: what it says, in one line, when it cannot start."""

from __future__ import annotations


def one_line_error(result) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("simjobs: error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def test_watching_a_missing_log_names_it(cli, tmp_path):
    line = one_line_error(cli("app", "--watch", tmp_path / "nope.csv"))
    assert "no simulations log at" in line and "nope.csv" in line and "check the path" in line


def test_watching_a_directory_says_to_name_the_file(cli, tmp_path):
    line = one_line_error(cli("app", "--watch", tmp_path))
    assert "is a directory, not a simulations log" in line


def test_an_unknown_theme_lists_the_choices(cli, make_config):
    line = one_line_error(cli("app", "--config", make_config(), "--theme", "nope"))
    assert "unknown theme 'nope'" in line and "simjobs-dark" in line and "simjobs-light" in line


def test_without_a_terminal_the_app_points_to_the_script_commands(cli, make_config, tmp_path):
    line = one_line_error(cli("app", "--config", make_config()))
    assert "needs a terminal" in line and "simjobs run" in line
    assert not (tmp_path / "runs.csv").exists()  # nothing created on disk


def test_app_help_names_watch_and_theme(cli):
    result = cli("app", "--help")
    assert result.returncode == 0
    assert "--watch LOG" in result.stdout and "--theme NAME" in result.stdout
