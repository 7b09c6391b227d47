"""The hardware trainer under cocotb (Verilator or Icarus) against the QTrain golden model.

:func:`check_trainer` generates the trainer's Verilog, runs
:mod:`sim.tb_trainer` over segments (each: reset, load a state, train on
samples with random gaps, read every word back) and compares every shadow
weight, bias, the step and the classes with
:func:`golden_model.qtrain.train_step`.
"""

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from golden_model.output_files import write_text
from golden_model.qtrain import train_step
from hdl.trainer.export import TRAINER_TOP, trainer_verilog
from hdl.trainer.plan import (
    TrainerPlanError,
    bias_from_words,
    bias_words,
    check_samples,
    plan_trainer,
    shadow_from_words,
    shadow_words,
)
from hdl.trainer.simulate import state_mismatches
from sim.netlist import flatten_cached
from sim.runner import DEFAULT_BUILD_ROOT, run_cocotb

__all__ = ["Segment", "TrainerCheck", "check_trainer"]


@dataclass
class Segment:
    """One run after a reset: a state, samples, gaps (probabilities per cycle), a seed."""

    state: object
    images: np.ndarray
    labels: np.ndarray
    in_gap: float = 0.0
    out_gap: float = 0.0
    seed: int = 0


@dataclass
class TrainerCheck:
    """Outcome of :func:`check_trainer`: ``status`` as the cocotb run's, and per segment
    the state mismatches (messages), the class mismatches and the cycles between classes."""

    status: str
    reason: str = ""
    mismatches: list = field(default_factory=list)
    class_mismatches: list = field(default_factory=list)
    class_intervals: list = field(default_factory=list)
    run: object = None
    plan: object = None

    @property
    def passed(self):
        return self.status == "passed" and not any(self.mismatches) \
            and not any(self.class_mismatches)


def _golden(segment):
    expected = segment.state.copy()
    classes = [train_step(expected, x, y)["predicted"]
               for x, y in zip(segment.images, segment.labels, strict=True)]
    return expected, classes


def _words(plan, state):
    words = {}
    for k, (lp, layer) in enumerate(zip(plan.layers, state.layers, strict=True)):
        words[str(2 * k)] = [f"{w:x}" for w in shadow_words(lp, layer.shadow)]
        words[str(2 * k + 1)] = [f"{w:x}" for w in bias_words(lp, layer.bias)]
    return words


def _state_from(plan, template, result):
    got = template.copy()
    for k, lp in enumerate(plan.layers):
        got.layers[k].shadow = shadow_from_words(lp, [int(w, 16) for w in
                                                      result["words"][str(2 * k)]])
        got.layers[k].bias = bias_from_words(lp, [int(w, 16) for w in
                                                  result["words"][str(2 * k + 1)]])
    got.step = result["step"]
    return got


def check_trainer(segments, folding, simulator="verilator", build_root=DEFAULT_BUILD_ROOT):
    """Run the trainer of ``segments[0].state``'s configuration over the segments.

    Parameters
    ----------
    segments : list of Segment
        Their states share the configuration and sizes (one design).
    folding : sequence of (PE, SIMD)
    simulator : {"verilator", "icarus"}
        Icarus gets the flattened netlist (:mod:`sim.netlist`): its ``always @*``
        blocks of the generated Verilog do not run until an input changes, so
        outputs of a state that never changes stay X.
    build_root : Path

    Returns
    -------
    TrainerCheck
    """
    plan = plan_trainer(segments[0].state, folding)
    for n, segment in enumerate(segments):
        if plan_trainer(segment.state, folding) != plan:
            raise TrainerPlanError(f"segments[{n}]: expected the sizes, codes and "
                                   "hyper-parameters of segments[0] (one design)")
        segment.images, segment.labels = check_samples(plan, segment.images, segment.labels)
    key = (f"trainer-{'-'.join(str(lp.n_in) for lp in plan.layers)}-{plan.n_classes}"
           f"-{plan.weight_mode}-{plan.sampling}")
    data_dir = Path(build_root).resolve() / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    config_path = data_dir / f"{key}-{simulator}-{time.time_ns()}.json"
    config = {
        "memories": {str(2 * k + b): depth for k, lp in enumerate(plan.layers)
                     for b, depth in enumerate((lp.depth, lp.row_groups))},
        "segments": [{"words": _words(plan, s.state), "step": int(s.state.step) & 0xFFFFFFFF,
                      "images": np.asarray(s.images).astype(int).tolist(),
                      "labels": np.asarray(s.labels).astype(int).tolist(),
                      "in_gap": s.in_gap, "out_gap": s.out_gap, "seed": s.seed}
                     for s in segments],
    }
    write_text(config_path, json.dumps(config))
    source = trainer_verilog(plan)
    if simulator == "icarus":
        source = flatten_cached(source, TRAINER_TOP, Path(build_root).resolve() / "netlists")
    try:
        run = run_cocotb(source, TRAINER_TOP, "sim.tb_trainer", simulator,
                         build_key=key, extra_env={"MULFREE_TB_CONFIG": str(config_path)},
                         build_root=build_root, public_modules=[TRAINER_TOP])
    finally:
        config_path.unlink(missing_ok=True)
    check = TrainerCheck(run.status, run.reason, run=run, plan=plan)
    result_path = run.run_dir / "result_trainer.json" if run.run_dir else None
    if run.status != "passed" or result_path is None or not result_path.is_file():
        if run.status == "passed":
            check.status, check.reason = "failed", "the testbench wrote no result"
        return check
    for segment, result in zip(segments, json.loads(result_path.read_text()), strict=True):
        expected, classes = _golden(segment)
        got = _state_from(plan, segment.state, result)
        check.mismatches.append(state_mismatches(expected, got))
        check.class_mismatches.append(
            [f"sample {n}: expected class {want}, got {have}"
             for n, (want, have) in enumerate(zip(classes, result["classes"],
                                                       strict=True)) if want != have][:20])
        check.class_intervals.append(np.diff(result["class_cycles"]).tolist())
    return check
