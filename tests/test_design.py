"""Inputs for batches: CSV files of inputs and Latin hypercube designs."""

from __future__ import annotations

import math

import pytest

from simjobs.design import (
    DesignError,
    latin_hypercube,
    parse_coordinate,
    parse_count,
    parse_inputs_csv,
    parse_seed,
    read_inputs_csv,
)
from simjobs.core.types import Input


@pytest.mark.parametrize("text, value", [("1", 1.0), (" -2.5 ", -2.5), ("1e3", 1000.0)])
def test_parse_coordinate_accepts_finite_numbers(text, value):
    assert parse_coordinate(text) == value


@pytest.mark.parametrize("text, fragment", [
    ("", "enter a number"),
    ("abc", "'abc' is not a number"),
    ("nan", "not finite"),
    ("-inf", "not finite"),
])
def test_parse_coordinate_names_the_problem(text, fragment):
    with pytest.raises(DesignError, match=fragment):
        parse_coordinate(text)


def test_parse_count_and_seed():
    assert parse_count("25") == 25
    for bad, fragment in [("0", "at least 1"), ("2.5", "whole number"), ("", "enter"),
                          ("99999999", "at most")]:
        with pytest.raises(DesignError, match=fragment):
            parse_count(bad)
    assert parse_seed("") is None
    assert parse_seed("42") == 42
    with pytest.raises(DesignError, match="seed"):
        parse_seed("-1")


def test_csv_with_and_without_header():
    with_header = "x1,x2\n0.5,1\n\n# a comment\n2,3e-1\n"
    assert parse_inputs_csv(with_header, 2) == [Input(0.5, 1.0), Input(2.0, 0.3)]
    assert parse_inputs_csv("1,2\n3,4\n", 2) == [Input(1.0, 2.0), Input(3.0, 4.0)]


def test_csv_dimension_inferred_when_unknown():
    assert parse_inputs_csv("1,2,3\n", None) == [Input(1.0, 2.0, 3.0)]
    with pytest.raises(DesignError, match="line 2 .* 2 values where inputs have 3"):
        parse_inputs_csv("1,2,3\n4,5\n", None)


@pytest.mark.parametrize("text, message", [
    ("x,y\n1,2\n3\n", "line 3 of f.csv: 1 value where inputs have 2 coordinates"),
    ("1,2\n1,2\n1,abc\n", "line 3 of f.csv, column 2: 'abc' is not a number"),
    ("1,2\nnan,2\n", "line 2 of f.csv, column 1: 'nan' is not finite"),
    ("1,2\n1,inf\n", "line 2 of f.csv, column 2: 'inf' is not finite"),
    ("a,b,c\n1,2\n", "line 1 of f.csv: the header names 3 columns"),
    ("x1,x2\n\n", "f.csv holds no inputs"),
    ("", "f.csv holds no inputs"),
])
def test_csv_first_bad_line_is_named_in_one_line(text, message):
    with pytest.raises(DesignError) as info:
        parse_inputs_csv(text, 2, source="f.csv")
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_read_csv_file_errors(tmp_path):
    good = tmp_path / "in.csv"
    good.write_text("x1,x2\n1,2\n3,4\n")
    assert read_inputs_csv(good, 2) == [Input(1.0, 2.0), Input(3.0, 4.0)]
    with pytest.raises(DesignError, match="does not exist"):
        read_inputs_csv(tmp_path / "missing.csv", 2)
    with pytest.raises(DesignError, match="is a directory"):
        read_inputs_csv(tmp_path, 2)
    with pytest.raises(DesignError, match="enter the path"):
        read_inputs_csv("  ", 2)
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(DesignError, match="not a UTF-8"):
        read_inputs_csv(binary, 2)


def test_latin_hypercube_is_space_filling_within_bounds_and_seeded():
    lower, upper = [0.0, -10.0], [1.0, 10.0]
    design = latin_hypercube(20, lower, upper, seed=7)
    assert len(design) == 20 and all(isinstance(x, Input) and len(x) == 2 for x in design)
    for x in design:
        assert 0.0 <= x[0] <= 1.0 and -10.0 <= x[1] <= 10.0
    # Latin: each of the 20 equal slices of each coordinate holds exactly one point.
    for i, (lo, hi) in enumerate(zip(lower, upper)):
        slices = sorted(min(int((x[i] - lo) / (hi - lo) * 20), 19) for x in design)
        assert slices == list(range(20))
    assert latin_hypercube(20, lower, upper, seed=7) == design
    assert latin_hypercube(20, lower, upper, seed=8) != design


def test_latin_hypercube_fixed_coordinate_and_bad_arguments():
    design = latin_hypercube(5, [1.0, 0.0], [1.0, 2.0], seed=1)
    assert all(x[0] == 1.0 and math.isfinite(x[1]) for x in design)
    with pytest.raises(DesignError, match="lower bound of x2 .* exceeds"):
        latin_hypercube(5, [0.0, 3.0], [1.0, 2.0])
    with pytest.raises(DesignError, match="number of points"):
        latin_hypercube(0, [0.0], [1.0])
    with pytest.raises(DesignError, match="one lower and one upper"):
        latin_hypercube(3, [0.0], [1.0, 2.0])
    with pytest.raises(DesignError, match="finite"):
        latin_hypercube(3, [0.0], [math.inf])


def test_one_reader_takes_exauq_columns_comments_and_a_bom(tmp_path):
    # What the CLI took and the app's batch tab refused (Input_k columns), and what the
    # app took and the CLI refused (a BOM, # comments): one reader now takes all three.
    path = tmp_path / "exauq.csv"
    path.write_bytes("\ufeff# from an exauq log\nInput_2,Input_1,Output,Job_ID\r\n"
                     "5,6,,1\r\n# a comment\r\n7,8,0.5,2\r\n".encode())
    assert read_inputs_csv(path, 2) == [Input(6.0, 5.0), Input(8.0, 7.0)]
    assert read_inputs_csv(path, None) == [Input(6.0, 5.0), Input(8.0, 7.0)]


@pytest.mark.parametrize("text, message", [
    ("Input_1,Input_2,Input_3\n1,2,3\n", "line 1 of f.csv: the header names 3 Input_k columns"),
    ("Input_1,Input_3\n1,2\n", "numbers them Input_1 to Input_2"),
    ("Input_1,Input_2\n1,abc\n", "line 2 of f.csv, column 2: 'abc' is not a number"),
])
def test_exauq_style_headers_name_what_is_wrong(text, message):
    with pytest.raises(DesignError, match=message):
        parse_inputs_csv(text, 2, source="f.csv")


def test_latin_hypercube_needs_no_scipy():
    # scipy (~140 MB, thousands of files: it counts against HPC inode quotas) is no
    # dependency: the design is made with numpy alone.
    import subprocess
    import sys

    code = ("import sys; sys.modules['scipy'] = None\n"
            "from simjobs.design import latin_hypercube\n"
            "print(len(latin_hypercube(50, [0.0, 0.0], [1.0, 2.0], seed=3)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "50"
