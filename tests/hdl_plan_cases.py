"""Accelerators whose Verilog, estimate and folding must not change when planning moves.

Each case is a QNet and the options of :class:`hdl.accelerator.Accelerator`;
:func:`fingerprint` digests what the generator makes of it. The digests in
``tests/test_hdl_plan.py`` were recorded before planning was split from
elaboration; print them with ``PYTHONPATH=. python tests/hdl_plan_cases.py``.
"""

import hashlib
import json

from hdl_nets import random_qnet

#: name -> (QNet arguments, Accelerator options); "board" asks for the demo's budgets.
CASES = {
    "demo_auto_icebreaker": (dict(seed=0), dict(folding="auto", board="icebreaker")),
    "pow2_trec_tlin": (dict(seed=1, sizes=(64, 32, 16, 10), activations=["trec", "tlin"],
                            pow2=[True, False], out_bits=[4, 3]),
                       dict(folding=[(4, 8), (2, 4), (1, 2)], in_lanes=4)),
    "spram": (dict(seed=2, sizes=(64, 32, 10)),
              dict(folding=[(2, 8), (2, 4)], weight_store="spram")),
    "ram_binary_uneven": (dict(seed=3, sizes=(64, 24, 10), modes=["binary", "ternary"]),
                          dict(folding=[(3, 5), (4, 3)], in_lanes=2,
                               weight_store=["ram", "rom"])),
    "baseline": (dict(seed=4), dict(folding=[(2, 4), (1, 4)], datapath="multiply")),
    "auto_target": (dict(seed=5, sizes=(64, 32, 10)), dict(folding="auto", target_cycles=64)),
}


def build(name):
    """The QNet and the Accelerator options of case ``name``."""
    net_args, options = CASES[name]
    qnet = random_qnet(**net_args)
    options = dict(options)
    board = options.pop("board", None)
    if board is not None:
        from boards.memory_plan import block_ram_budget
        from boards.registry import get_board

        spec = get_board(board)
        options["lut_budget"] = int(0.4 * spec.capacity.lut)
        options["bram_budget"] = {spec.family: block_ram_budget(qnet, spec)}
    return qnet, options


def _sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(name):
    """``{"verilog", "estimate": sha256, "folding": list}`` of case ``name``."""
    from amaranth.back import verilog

    from hdl.accelerator import Accelerator
    from hdl.export import TOP_NAME

    qnet, options = build(name)
    accelerator = Accelerator(qnet, **options)
    estimate = accelerator.estimate()
    return {
        "verilog": _sha(verilog.convert(accelerator, name=TOP_NAME, emit_src=False)),
        "estimate": _sha(json.dumps(estimate, sort_keys=True, default=str)),
        "folding": [list(map(int, pair)) for pair in accelerator.folding],
    }


if __name__ == "__main__":
    print(json.dumps({name: fingerprint(name) for name in CASES}, indent=1))
