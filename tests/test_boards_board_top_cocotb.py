"""The UART board top as generated Verilog, with the real Accelerator, under cocotb.

Images go in through ``cocotbext-uart``; every answer must equal
``QNet.forward`` (through the Python board model), and malformed requests
must be rejected with the right error while the board keeps answering. A
bitstream with loadable weights goes through a whole load session: in a
plain memory (``ram``) on Icarus, in ``SB_SPRAM256KA`` blocks simulated by
Yosys's cell model on Verilator.
"""

import pytest
from amaranth.back import verilog
from board_top_runs import DIVISOR, PERIOD_NS, TIMEOUT_CYCLES, run_tb
from boards_qnets import make_qnet, random_images

from boards.board_top import BoardTop
from hdl.accelerator import Accelerator
from sim.vendor_models import spram_model, uses_spram

FOLDING = [(2, 3), (2, 2)]


def run_board_top(tmp_path, simulator, testcase, weight_store=None, in_flight=1):
    """Build the board top of a small QNet (``in_flight`` images in flight) and run one cocotb
    test; returns the cycle counts of the INFER answers it checked."""
    qnet = make_qnet(sizes=(12, 6, 4), in_bits=4, seed=11, pow2=True)
    accelerator = (Accelerator(qnet, folding=FOLDING, weight_store=weight_store,
                               images=in_flight) if in_flight > 1 else None)
    top = BoardTop(qnet, divisor=DIVISOR, clock_hz=int(1e9 / PERIOD_NS),
                   timeout_cycles=TIMEOUT_CYCLES, folding=FOLDING, weight_store=weight_store,
                   accelerator=accelerator, n_leds=3, bench=True)
    text = verilog.convert(top, name="mulfree_board", emit_src=False)
    sources = [text]
    if uses_spram(text):
        sources.append(spram_model())
    assert uses_spram(text) == (weight_store == "spram")
    qnet_path = tmp_path / "net.qnet.npz"
    qnet.save(qnet_path)
    images = random_images(qnet, 5, seed=4)
    images[0] = 0                                    # all-zero image
    images[1] = (1 << qnet.input.bits) - 1           # saturated image
    return run_tb(tmp_path, sources, simulator, testcase, qnet_path, images, FOLDING,
                  weight_store, build_key=f"board_top_{weight_store or 'rom'}"
                  + (f"_b{in_flight}" if in_flight > 1 else ""))


@pytest.mark.slow
# Both simulators: the board top is its own design (UART, framing, image buffer).
@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_board_top_answers_equal_qnet_forward(tmp_path, simulator):
    cycles = run_board_top(tmp_path, simulator, "images_and_malformed_frames")
    assert len(cycles) == 5 + 8                       # every INFER answer was checked


@pytest.mark.slow
@pytest.mark.parametrize("simulator, weight_store", [("icarus", "ram"),
                                                     ("verilator", "spram")])
def test_board_top_loads_weights_then_answers_equal_qnet_forward(tmp_path, simulator,
                                                                 weight_store):
    cycles = run_board_top(tmp_path, simulator, "weight_load_session", weight_store)
    assert len(cycles) == 5 + 1                       # the loaded images and the last INFER


@pytest.mark.slow
def test_board_top_with_images_in_flight_answers_single_images(tmp_path):
    # The board top sends one image at a time: each closes a partial group by itself.
    cycles = run_board_top(tmp_path, "verilator", "images_and_malformed_frames",
                           in_flight=3)
    assert len(cycles) == 5 + 8
