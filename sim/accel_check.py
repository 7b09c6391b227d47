"""Check the generated accelerator against the QNet on one simulator.

:func:`check_accelerator` generates the Verilog (:func:`hdl.export.generate_verilog`),
wraps it in :mod:`sim.harness`, writes the images and the QNet's expected
outputs for :mod:`sim.tb_accel`, runs the chosen scenarios through
:func:`sim.runner.run_cocotb` and gathers what each scenario saw.

Members
-------
SCENARIOS
    Names of the scenarios of :mod:`sim.tb_accel`.
Scenario
    Which images and which gaps one scenario uses.
AccelCheck
    Outcome on one simulator.
check_accelerator
    Build, run, collect.
design_key
    Readable cache key of a design.
"""

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from golden_model.output_files import atomic_output, write_text
from sim.harness import HARNESS_TOP, VERILATOR_ARGS, harness_verilog
from sim.netlist import flatten_cached
from sim.runner import DEFAULT_BUILD_ROOT, run_cocotb
from sim.stream_codec import StreamFormat
from sim.toolchain import check_simulator
from sim.vendor_models import spram_blackbox, spram_model, uses_spram

SCENARIOS = ("bulk_full_rate", "bulk_random_gaps", "driven_random_gaps", "reset_mid_image")


@dataclass(frozen=True)
class Scenario:
    """One scenario of :mod:`sim.tb_accel`.

    Members
    -------
    name : str
        One of :data:`SCENARIOS`.
    start, stop : int
        Range of images (positions in the image array) it streams.
    in_gap, out_gap : int
        Chance, in 1/256, that the source idles / the sink stalls in a cycle.
    seed : int
    """

    name: str
    start: int
    stop: int
    in_gap: int = 0
    out_gap: int = 0
    seed: int = 1

    def to_json(self):
        return {"start": self.start, "stop": self.stop, "in_gap": self.in_gap,
                "out_gap": self.out_gap, "seed": self.seed}


def default_scenarios(n_images, driven_images=4, seed=1):
    """Every image at full rate and with gaps; a few driven from Python.

    Parameters
    ----------
    n_images : int
        Images available; the bulk scenarios use all of them.
    driven_images : int
        Images for the Python-driven scenarios (at least 3 for the reset one).
    """
    driven = min(n_images, max(3, driven_images))
    return [
        Scenario("bulk_full_rate", 0, n_images, 0, 0, seed),
        Scenario("bulk_random_gaps", 0, n_images, 96, 96, seed + 1),
        Scenario("driven_random_gaps", 0, driven, 80, 80, seed + 2),
        Scenario("reset_mid_image", 0, driven, 48, 48, seed + 3),
    ]


@dataclass
class AccelCheck:
    """Outcome of :func:`check_accelerator` on one simulator.

    Members
    -------
    simulator : str
    status : str
        ``passed``, ``failed`` or ``skipped``.
    reason : str
    scenarios : dict
        Per scenario name, the testbench's result dict (images, received,
        mismatches, first_mismatch, simulated_cycles, ...).
    run : CocotbRun
    cycles_per_image_estimate : int
    wall_seconds : float
        Build plus simulation.
    """

    simulator: str
    status: str
    reason: str = ""
    scenarios: dict = field(default_factory=dict)
    run: object = None
    cycles_per_image_estimate: int = 0
    wall_seconds: float = 0.0

    @property
    def mismatches(self):
        return sum(int(s.get("mismatches", 0)) for s in self.scenarios.values())

    @property
    def first_mismatch(self):
        for result in self.scenarios.values():
            if result.get("first_mismatch"):
                return result["first_mismatch"]
        return None


def design_key(qnet, folding, in_lanes):
    """Readable cache-directory prefix: network shape and options."""
    # A map layer (conv, pool, flatten) is named by its output shape.
    shape = "-".join([str(qnet.input.n_inputs)] + [
        str(layer.n_out) if not hasattr(layer, "out_shape") else "x".join(map(str, layer.out_shape))
        for layer in qnet.layers])
    fold = "auto" if folding == "auto" else ("pe1" if folding is None else "fold")
    return f"accel-{shape}-{fold}-l{int(in_lanes)}"


def check_accelerator(qnet, images, simulator, *, indices=None, folding=None, in_lanes=1,
                      scenarios=None, hardware_qnet=None, waves=False,
                      build_root=DEFAULT_BUILD_ROOT, accelerator_options=None,
                      icarus_netlist="flat"):
    """Run the accelerator's Verilog on ``simulator`` and compare with ``qnet``.

    Parameters
    ----------
    qnet : QNet
        The reference: expected outputs are ``qnet.forward(images)``.
    images : ndarray of int, shape (n, n_inputs)
    simulator : {"verilator", "icarus"}
    indices : ndarray of int, optional
        Test-set index of each image (for the mismatch report).
    folding, in_lanes
        Passed to the generator.
    scenarios : list of Scenario, optional
        Default: :func:`default_scenarios`.
    hardware_qnet : QNet, optional
        The QNet given to the generator, when it is not ``qnet`` (to check
        that the testbench catches a wrong design).
    waves : bool
        Trace the run (FST on Icarus, VCD on Verilator).
    build_root : Path
    accelerator_options : dict, optional
        Extra keyword arguments for the generator (e.g. ``target_cycles``).
    icarus_netlist : {"flat", "raw"}
        What Icarus simulates: the Yosys-flattened netlist of the generated
        Verilog (:mod:`sim.netlist`, much faster on Icarus) or the generated
        Verilog itself. Verilator always gets the generated Verilog.

    Returns
    -------
    AccelCheck
    """
    from hdl.accelerator import Accelerator
    from hdl.export import generate_verilog

    start = time.perf_counter()
    status = check_simulator(simulator)
    if not status.available:
        return AccelCheck(simulator, "skipped", f"{simulator}: {status.reason}")
    images = np.asarray(images, dtype=np.int64)
    indices = np.arange(len(images)) if indices is None else np.asarray(indices)
    scenarios = default_scenarios(len(images)) if scenarios is None else list(scenarios)
    hardware = qnet if hardware_qnet is None else hardware_qnet
    options = dict(accelerator_options or {})
    accel = Accelerator(hardware, folding=folding, in_lanes=in_lanes, **options)
    # Only its estimates are read here; generate_verilog elaborates its own copy.
    accel._MustUse__silence = True
    fmt = StreamFormat.of(qnet, in_lanes)
    if icarus_netlist not in ("flat", "raw"):
        raise ValueError(f"icarus_netlist: expected 'flat' or 'raw', got {icarus_netlist!r}")
    accel_source = generate_verilog(hardware, folding=folding, in_lanes=in_lanes, **options)
    spram = uses_spram(accel_source)
    if simulator == "icarus" and icarus_netlist == "flat":
        # The SPRAM cells stay instances (a black box to Yosys) and get their model below.
        accel_source = flatten_cached(accel_source + (spram_blackbox() if spram else ""),
                                      "mulfree_accel", Path(build_root).resolve() / "netlists")
    load_map = accel.load_map
    sources = [
        accel_source,
        harness_verilog(fmt.in_width, fmt.out_width, fmt.beats_per_image,
                        load_width=load_map.address_width + 16 if load_map.loadable else None),
    ]
    if spram:
        sources.append(spram_model())
    logits, classes = qnet.forward(images)
    key = design_key(hardware, folding, in_lanes)
    if simulator == "icarus":
        key += f"-{icarus_netlist}"

    # The data the testbench reads lives next to the build, per run.
    data_dir = Path(build_root).resolve() / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{key}-{qnet.fingerprint()[:12]}-{simulator}-{id(images):x}-{time.time_ns()}"
    data_path = data_dir / f"{stem}.npz"
    with atomic_output(data_path) as handle:
        np.savez(handle, images=images, logits=logits, classes=classes, indices=indices)
    config = {
        "format": fmt.__dict__, "data": str(data_path),
        "output_layer": len(qnet.layers) - 1,
        "cycles_per_image": int(accel.cycles_per_image),
        "latency_cycles": int(accel.latency_cycles),
        "beats_per_image": fmt.beats_per_image,
        "scenarios": {s.name: s.to_json() for s in scenarios},
    }
    if load_map.loadable:
        load_path = data_dir / f"{stem}.weights.hex"
        writes = load_map.writes()
        write_text(load_path, f"{len(writes):x}\n" + "".join(
            f"{value << load_map.address_width | address:x}\n" for address, value in writes))
        config["load"] = {"path": str(load_path), "writes": len(writes)}
    config_path = data_dir / f"{stem}.json"
    write_text(config_path, json.dumps(config))
    build_args = VERILATOR_ARGS if simulator == "verilator" else ()
    try:
        run = run_cocotb(sources, HARNESS_TOP, "sim.tb_accel", simulator, build_key=key,
                         extra_env={"MULFREE_TB_CONFIG": str(config_path)}, waves=waves,
                         testcase=[s.name for s in scenarios], build_args=build_args,
                         build_root=build_root, public_modules=[HARNESS_TOP])
    finally:
        data_path.unlink(missing_ok=True)
        config_path.unlink(missing_ok=True)
        if load_map.loadable:
            load_path.unlink(missing_ok=True)
    check = AccelCheck(simulator, run.status, run.reason, run=run,
                       cycles_per_image_estimate=int(accel.cycles_per_image))
    if run.run_dir is not None:
        for scenario in scenarios:
            path = run.run_dir / f"result_{scenario.name}.json"
            if path.is_file():
                check.scenarios[scenario.name] = json.loads(path.read_text())
            elif not run.skipped:
                check.scenarios[scenario.name] = {
                    "scenario": scenario.name, "images": scenario.stop - scenario.start,
                    "received": 0, "mismatches": scenario.stop - scenario.start,
                    "first_mismatch": {"image": None, "layer": "output", "neuron": None,
                                       "field": "no result",
                                       "expected": "a result from the testbench",
                                       "got": f"none (see {run.log_file})"}}
    check.wall_seconds = time.perf_counter() - start
    return check
