"""The UART board top of a trained digits CNN as generated Verilog, under cocotb on Verilator.

Real test images through ``cocotbext-uart``, every answer equal to ``QNet.forward``; the
convolutions' weights in ``SB_SPRAM256KA`` blocks (Yosys's model) loaded over the UART.
Kept apart from ``test_boards_board_top_cocotb.py`` so that the two files' Verilator runs
can go to different test workers.
"""

import pytest
from amaranth.back import verilog
from board_top_runs import DIVISOR, PERIOD_NS, TIMEOUT_CYCLES, run_tb

from boards.board_top import BoardTop
from sim.vendor_models import spram_model, uses_spram

# -- a trained CNN behind the UART -------------------------------------------------------

#: The trained digits CNN of tests/trained_cnns.py (conv, pool, conv, pool, flatten, dense,
#: dense) folded as in tests/test_sim_cmd.py.
CNN_FOLDING = [(2, 9), (1, 1), (4, 8), (1, 1), (1, 1), (4, 16), (10, 8)]


@pytest.fixture(scope="module")
def digits_cnn_path(tmp_path_factory):
    from trained_cnns import train_cnn

    return train_cnn(tmp_path_factory.mktemp("digits-cnn"), "digits", epochs=3)


def run_cnn_board_top(tmp_path, qnet_path, simulator, testcase, weight_store=None,
                      n_images=4):
    """The board top of the trained CNN on its first ``n_images`` digits test images; the
    cycle counts of the INFER answers checked."""
    from golden_model.datasets import load_dataset
    from golden_model.qnet import QNet

    qnet = QNet.load(qnet_path)
    top = BoardTop(qnet, divisor=DIVISOR, clock_hz=int(1e9 / PERIOD_NS),
                   timeout_cycles=TIMEOUT_CYCLES, folding=CNN_FOLDING,
                   weight_store=weight_store, n_leds=3, bench=True)
    text = verilog.convert(top, name="mulfree_board", emit_src=False)
    sources = [text] + ([spram_model()] if uses_spram(text) else [])
    assert uses_spram(text) == (weight_store is not None and "spram" in weight_store)
    images = load_dataset("digits", test_only=True).x_test[:n_images]
    return run_tb(tmp_path, sources, simulator, testcase, qnet_path, images, CNN_FOLDING,
                  weight_store, build_key=f"board_top_cnn_{testcase}")


@pytest.mark.slow
def test_board_top_runs_a_trained_cnn_on_real_test_images(tmp_path, digits_cnn_path):
    """INFO (a folding per QNet layer), every answer equal to QNet.forward on real digits
    test images (class and logits), malformed requests refused, on Verilator."""
    cycles = run_cnn_board_top(tmp_path, digits_cnn_path, "verilator",
                               "images_and_malformed_frames")
    assert len(cycles) == 4 + 8                       # every INFER answer was checked
    assert cycles[0] > 584                            # a latency, over one interval


@pytest.mark.slow
def test_board_top_loads_a_trained_cnn_s_spram_weights_then_answers_equal_forward(
        tmp_path, digits_cnn_path):
    """Both convolutions' weights in SB_SPRAM256KA blocks (Yosys's model, Verilator),
    loaded over the UART: refused before, bit-exact on real test images after."""
    stores = ["spram", "rom", "spram", "rom", "rom", "rom", "rom"]
    cycles = run_cnn_board_top(tmp_path, digits_cnn_path, "verilator", "weight_load_session",
                               weight_store=stores)
    assert len(cycles) == 4 + 1                       # the loaded images and the last INFER
