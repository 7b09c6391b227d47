"""The shared range-checked argparse types and the one-line option parser."""

import argparse

import pytest

from golden_model.cli_args import (
    MAX_SEED,
    OptionError,
    OptionParser,
    integer,
    nonnegative_int,
    number,
    positive_int,
    seed,
)


@pytest.mark.parametrize("parse, text, value", [
    (positive_int, "1", 1), (positive_int, "65536", 65536), (nonnegative_int, "0", 0),
    (seed, "0", 0), (seed, str(MAX_SEED), MAX_SEED), (integer(-3, 3), "-3", -3),
    (integer(-3, 3), "3", 3), (number(0, 1, high_open=True), "0", 0.0),
    (number(0, low_open=True), "1e-300", 1e-300), (number(1, 400), "400", 400.0),
])
def test_values_at_the_edges_are_accepted(parse, text, value):
    assert parse(text) == value


@pytest.mark.parametrize("parse, text, expected", [
    (positive_int, "0", "0: expected an integer >= 1"),
    (positive_int, "2.0", "2.0: expected an integer >= 1"),
    (positive_int, "", ": expected an integer >= 1"),
    (nonnegative_int, "-1", "-1: expected an integer >= 0"),
    (seed, str(MAX_SEED + 1), f"{MAX_SEED + 1}: expected a seed in 0..{MAX_SEED}"),
    (integer(-3, 3, "a shift"), "4", "4: expected a shift in -3..3"),
    (integer(high=5), "6", "6: expected an integer <= 5"),
    (number(0, 1, high_open=True, what="a probability"), "1",
     "1: expected a probability in [0, 1)"),
    (number(0, low_open=True), "0", "0: expected a finite number > 0"),
    (number(0, low_open=True), "-0.0", "-0.0: expected a finite number > 0"),
    (number(), "nan", "nan: expected a finite number"),
    (number(), "inf", "inf: expected a finite number"),
    (number(), "-Infinity", "-Infinity: expected a finite number"),
    (number(), "1e999", "1e999: expected a finite number"),
    (number(high=2, high_open=True), "2", "2: expected a finite number < 2"),
    (number(0, 3600, low_open=True, what="a finite number of seconds"), "3600.5",
     "3600.5: expected a finite number of seconds in (0, 3600]"),
])
def test_values_out_of_range_name_the_text_and_the_range(parse, text, expected):
    with pytest.raises(argparse.ArgumentTypeError) as info:
        parse(text)
    assert str(info.value) == expected


def test_option_parser_reports_one_error_in_the_projects_form():
    parser = OptionParser(prog="mulfree x")
    parser.add_argument("-s", "--seed", type=seed, default=0)
    parser.add_argument("--mode", choices=("a", "b"))
    parser.add_argument("--need", required=False)
    with pytest.raises(OptionError, match=r"^--seed -1: expected a seed in 0\.\.4294967295$"):
        parser.parse_args(["--seed=-1"])
    with pytest.raises(OptionError, match=r"^--mode: invalid choice: 'c'"):
        parser.parse_args(["--mode", "c"])
    with pytest.raises(OptionError, match="expected one argument"):
        parser.parse_args(["--seed"])
    assert parser.parse_args(["-s", "7"]).seed == 7


def test_negative_numbers_and_number_lists_are_values_not_options():
    parser = OptionParser(prog="mulfree x")
    parser.add_argument("--timeout", type=number(0, low_open=True))
    parser.add_argument("--range")
    parser.add_argument("--folding")
    assert parser.parse_args(["--range", "-4,3"]).range == "-4,3"
    assert parser.parse_args(["--range", "-4,-3"]).range == "-4,-3"
    for text in ("-1", "-0.5", "-1e3", "-inf", "-NaN"):
        with pytest.raises(OptionError, match=f"^--timeout {text}: expected a finite number > 0$"):
            parser.parse_args(["--timeout", text])
    with pytest.raises(OptionError, match="^--folding: expected one argument$"):
        parser.parse_args(["--folding", "-x"])
