"""What the board-top cocotb tests share: the testbench settings and the runs they build.

Members
-------
run_tb
    Run a ``boards.tb_board_top`` test case on a board top's Verilog.
run_digits_board_top
    Build the digits board top (the README's UP5K network) and run a test case on it.
"""

import json

import pytest
from amaranth.back import verilog
from boards_qnets import make_qnet

from boards.board_top import BoardTop
from hdl.accelerator import Accelerator
from sim.runner import run_cocotb

DIVISOR = 8
TIMEOUT_CYCLES = 600
PERIOD_NS = 10


def run_tb(tmp_path, sources, simulator, testcase, qnet_path, images, folding, weight_store,
           build_key):
    """Run ``boards.tb_board_top``'s ``testcase`` on the board top in ``sources``; the
    cycle counts of the INFER answers it checked."""
    config = {
        "qnet": str(qnet_path), "images": images.tolist(), "clock_period_ns": PERIOD_NS,
        "clock_hz": int(1e9 / PERIOD_NS), "divisor": DIVISOR,
        "timeout_cycles": TIMEOUT_CYCLES, "max_answer_cycles": 40_000,
        "folding": folding, "weight_store": weight_store,
    }
    config_path = tmp_path / "tb.json"
    config_path.write_text(json.dumps(config))
    run = run_cocotb(sources, toplevel="mulfree_board", test_module="boards.tb_board_top",
                     simulator=simulator, build_key=build_key,
                     testcase=testcase, extra_env={"MULFREE_BOARD_TB": str(config_path)})
    if run.status == "skipped":
        pytest.skip(run.reason)
    log = run.log_file.read_text()[-3000:] if run.log_file and run.log_file.exists() else ""
    assert run.status == "passed", f"{run.reason}\n{log}"
    assert run.n_tests == 1 and run.n_failed == 0
    return json.loads((run.run_dir / "cycles.json").read_text())


#: The digits network of the README's UP5K row (64-128-128-10, 5-bit pixels), its folding
#: and clock; random weights, as the rate does not depend on them.
DIGITS_SIZES = (64, 128, 128, 10)
DIGITS_FOLDING = [(1, 8), (1, 16), (1, 2)]
DIGITS_CLOCK_HZ = 30_000_000


def run_digits_board_top(tmp_path, baud, images, testcase, simulator, *, max_batch=1,
                         folding=DIGITS_FOLDING, in_lanes=1, **config):
    """Build the digits board top (BENCH on, ``max_batch``, the accelerator at ``folding``
    fed ``in_lanes`` pixels a beat) with the UART at ``baud`` for a 30 MHz clock, run
    ``boards.tb_board_top``'s ``testcase`` on ``images`` and return ``(qnet, the run)``;
    ``config`` adds testbench settings."""
    from boards.uart import uart_divisor

    qnet = make_qnet(sizes=DIGITS_SIZES, in_bits=5, seed=3)
    divisor = uart_divisor(DIGITS_CLOCK_HZ, baud)
    timeout = 20 * 10 * divisor                     # 20 idle byte times
    accelerator = Accelerator(qnet, folding=folding, in_lanes=in_lanes)
    top = BoardTop(qnet, divisor=divisor, clock_hz=DIGITS_CLOCK_HZ, timeout_cycles=timeout,
                   accelerator=accelerator, bench=True, max_batch=max_batch)
    text = verilog.convert(top, name="mulfree_board", emit_src=False)
    qnet_path = tmp_path / "digits.qnet.npz"
    qnet.save(qnet_path)
    config = {
        "qnet": str(qnet_path), "images": images(qnet).tolist(), "clock_period_ns": PERIOD_NS,
        "clock_hz": DIGITS_CLOCK_HZ, "divisor": divisor, "timeout_cycles": timeout,
        "folding": folding, "weight_store": None, "max_batch": max_batch,
        "in_lanes": in_lanes, **config,
    }
    config_path = tmp_path / "tb.json"
    config_path.write_text(json.dumps(config))
    key = f"board_top_digits_div{divisor}" + (f"_batch{max_batch}" if max_batch > 1 else "")
    if folding != DIGITS_FOLDING or in_lanes != 1:
        key += "_" + "_".join(f"{pe}x{simd}" for pe, simd in folding) + f"_l{in_lanes}"
    run = run_cocotb([text], toplevel="mulfree_board", test_module="boards.tb_board_top",
                     simulator=simulator, build_key=key, testcase=testcase,
                     extra_env={"MULFREE_BOARD_TB": str(config_path)})
    if run.status == "skipped":
        pytest.skip(run.reason)
    log = run.log_file.read_text()[-3000:] if run.log_file and run.log_file.exists() else ""
    assert run.status == "passed", f"{run.reason}\n{log}"
    return qnet, run
