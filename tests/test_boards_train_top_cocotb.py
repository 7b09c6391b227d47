"""The training board top as generated Verilog, with the real Trainer, under cocotb.

A state goes in word by word through ``cocotbext-uart``, samples are trained
with evaluations (EVAL) between them, and the whole state read back through
the serial protocol must equal the QTrain golden model bit for bit; every
answer must equal the Python board model's, every EVAL class the golden
model's, and malformed requests get their error without touching the state.
"""

import json

import numpy as np
import pytest
from amaranth.back import verilog
from qtrain_states import random_input, random_state

from boards.train_top import TrainTop
from golden_model.qtrain.state_file import save_state
from hdl.trainer.plan import plan_trainer
from sim.netlist import flatten_cached
from sim.runner import run_cocotb

DIVISOR = 8
TIMEOUT_CYCLES = 600
PERIOD_NS = 10


@pytest.mark.slow
@pytest.mark.parametrize("simulator", ["icarus"])
def test_train_top_state_equals_golden_model_through_the_uart(tmp_path, simulator):
    rng = np.random.default_rng(5)
    state = random_state(rng, sizes=(16, 8, 4), sampling="stochastic", delta_bits=10)
    folding = [(2, 4), (2, 2)]
    plan = plan_trainer(state, folding)
    top = TrainTop(plan, divisor=DIVISOR, clock_hz=int(1e9 / PERIOD_NS),
                   timeout_cycles=TIMEOUT_CYCLES, n_leds=3)
    text = verilog.convert(top, name="mulfree_train_board", emit_src=False)
    if simulator == "icarus":
        # Icarus leaves some of Amaranth's comb processes X; the flattened netlist has none.
        text = flatten_cached(text, "mulfree_train_board", tmp_path)
    state_path = tmp_path / "start.qtrain.npz"
    save_state(state, state_path)
    images = np.array([random_input(rng, state) for _ in range(4)])
    images[0] = 0
    images[1] = (1 << state.input.bits) - 1
    config = {
        "state": str(state_path), "folding": folding, "images": images.tolist(),
        "labels": rng.integers(0, 4, len(images)).tolist(), "clock_period_ns": PERIOD_NS,
        "clock_hz": int(1e9 / PERIOD_NS), "divisor": DIVISOR,
        "timeout_cycles": TIMEOUT_CYCLES, "max_answer_cycles": 40_000,
        "cycles": plan.cycles_per_sample,
    }
    config_path = tmp_path / "tb.json"
    config_path.write_text(json.dumps(config))
    run = run_cocotb([text], toplevel="mulfree_train_board", test_module="boards.tb_train_top",
                     simulator=simulator, build_key="train_top",
                     extra_env={"MULFREE_TRAIN_TB": str(config_path)})
    if run.status == "skipped":
        pytest.skip(run.reason)
    log = run.log_file.read_text()[-4000:] if run.log_file and run.log_file.exists() else ""
    assert run.status == "passed", f"{run.reason}\n{log}"
    assert run.n_tests == 1 and run.n_failed == 0
    cycles = json.loads((run.run_dir / "cycles.json").read_text())
    # The trainer's own cycles, the same for every sample: its input beats and compute.
    assert cycles["train"] == [plan.cycles_per_sample] * len(images)
    assert cycles["eval"] == [plan.eval_cycles_per_sample] * (2 * len(images) + 1)
