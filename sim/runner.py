"""Build and run cocotb testbenches on Verilator or Icarus, with cached builds.

One call, :func:`run_cocotb`, takes Verilog (text or files), the name of the
top module and a Python module of cocotb tests, and returns a
:class:`CocotbRun` that says what happened. Builds are cached under
``build/sim/<key>-<hash>/<simulator>`` where the hash covers every input of
the build (sources, top, simulator, waves, timescale), so a rerun with the
same design skips the compile -- for Verilator that is most of the time of a
short test. Concurrent runs (pytest-xdist) share a build safely: the build
directory is locked while it is built, and each run writes its results and
waves into a run directory of its own.

A simulator that is not installed is never silently passed over: the run
comes back with ``status == "skipped"`` and ``reason`` naming what is missing.

Example
-------
>>> run = run_cocotb(verilog_text, toplevel="mulfree_accel",
...                  test_module="sim.tb_accel", simulator="icarus",
...                  build_key="digits", extra_env={"MULFREE_TB_CONFIG": "cfg.json"})
>>> run.status, run.n_tests, run.n_failed
('passed', 3, 0)

Members
-------
CocotbRun
    Outcome of one run.
run_cocotb
    Build (or reuse) and run.
build_dir_for
    Where a design's build for one simulator lives.
DEFAULT_BUILD_ROOT
"""

import contextlib
import fcntl
import hashlib
import itertools
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from golden_model.output_files import write_text
from sim.toolchain import check_simulator

#: Root of the cached simulator builds (relative to the working directory);
#: ``MULFREE_SIM_BUILD`` in the environment moves it (e.g. for a cold-cache run).
DEFAULT_BUILD_ROOT = Path(os.environ.get("MULFREE_SIM_BUILD") or Path("build") / "sim")

#: Bumped when the way builds are made changes, so old caches are not reused.
_BUILD_RECIPE = "mulfree-sim-build-2"

#: Verilator arguments every build gets: generated (Amaranth) Verilog trips
#: width and style lint warnings that are not errors.
VERILATOR_LINT_ARGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style")

_STAMP = ".mulfree-built"

#: Run directories kept per design (older ones are deleted when a run starts).
KEEP_RUNS = 8


def _verilator_runner_public_only():
    """cocotb's Verilator runner without ``--public-flat-rw``.

    That flag makes every signal of the design reachable from Python, which
    stops Verilator from optimising anything away or inlining; a control file
    (see :func:`_public_control_file`) makes just the chosen modules public.
    """
    from cocotb_tools.runner import Verilator

    class PublicOnlyVerilator(Verilator):
        def _build_command(self):
            commands = super()._build_command()
            commands[0] = [arg for arg in commands[0] if arg != "--public-flat-rw"]
            return commands

    return PublicOnlyVerilator()


def _public_control_file(modules):
    lines = ["`verilator_config"]
    lines += [f'public_flat_rw -module "{module}" -var "*"' for module in modules]
    return "\n".join(lines) + "\n"
_run_counter = itertools.count()


@dataclass
class CocotbRun:
    """Outcome of one :func:`run_cocotb` call.

    Members
    -------
    simulator : str
    status : str
        ``"passed"`` (every cocotb test passed), ``"failed"`` (a test failed or
        the simulator died), or ``"skipped"`` (simulator not available).
    reason : str
        Why it was skipped or what failed (empty when passed).
    n_tests, n_failed : int
        From cocotb's results file.
    failed_tests : list of str
        Names of the failing cocotb tests.
    build_dir : Path or None
        The cached build directory.
    run_dir : Path or None
        Where this run wrote its results, log and waves.
    log_file : Path or None
        Everything the simulator and cocotb printed (``None`` if not captured).
    waves_file : Path or None
        FST (Icarus) or VCD (Verilator) trace, when waves were asked for.
    built : bool
        Whether this call compiled (False: the cache was reused).
    build_seconds, test_seconds : float
        Wall time of the build step (0 when cached) and of the simulation.
    """

    simulator: str
    status: str
    reason: str = ""
    n_tests: int = 0
    n_failed: int = 0
    failed_tests: list = field(default_factory=list)
    build_dir: Path | None = None
    run_dir: Path | None = None
    log_file: Path | None = None
    waves_file: Path | None = None
    built: bool = False
    build_seconds: float = 0.0
    test_seconds: float = 0.0

    @property
    def passed(self):
        return self.status == "passed"

    @property
    def skipped(self):
        return self.status == "skipped"

    def log_tail(self, lines=40):
        """The last ``lines`` lines of the log (for error messages)."""
        if self.log_file is None or not Path(self.log_file).is_file():
            return ""
        return "\n".join(Path(self.log_file).read_text(errors="replace").splitlines()[-lines:])


def _sources_from(verilog):
    """``[(file name, text)]`` from Verilog text or a list of file paths."""
    if isinstance(verilog, str):
        return [("design.v", verilog)]
    if isinstance(verilog, os.PathLike):
        verilog = [verilog]
    sources = []
    for item in verilog:
        if isinstance(item, str) and "\n" in item:
            sources.append((f"design{len(sources)}.v", item))
        else:
            path = Path(item)
            sources.append((path.name, path.read_text()))
    return sources


def _design_hash(sources, toplevel, simulator, waves, timescale, build_args):
    digest = hashlib.sha256(_BUILD_RECIPE.encode())
    for part in (toplevel, simulator, str(bool(waves)), repr(timescale), repr(build_args)):
        digest.update(part.encode() + b"\0")
    for name, text in sources:
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()[:16]


def build_dir_for(verilog, toplevel, simulator, build_key="design", waves=False,
                  timescale=("1ns", "1ps"), build_args=(), build_root=DEFAULT_BUILD_ROOT):
    """Cached build directory of a design for one simulator.

    Returns
    -------
    pathlib.Path
        ``<build_root>/<build_key>-<hash>/<simulator>[-waves]``.
    """
    sources = _sources_from(verilog)
    key = _design_hash(sources, toplevel, simulator, waves, timescale, tuple(build_args))
    suffix = "-waves" if waves else ""
    return Path(build_root).resolve() / f"{build_key}-{key}" / f"{simulator}{suffix}"


@contextlib.contextmanager
def _locked(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _set_environment(values):
    """Set (or, with None, remove) each environment variable of ``values``."""
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextlib.contextmanager
def _environment(**values):
    """Set (or, with None, remove) environment variables for the duration."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        _set_environment(values)
        yield
    finally:
        _set_environment(saved)


def _prune_runs(runs, keep=KEEP_RUNS):
    """Delete all but the ``keep`` newest run directories (stimulus files are large)."""
    if not runs.is_dir():
        return
    old = sorted((p for p in runs.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for path in old[:-keep] if keep else old:
        shutil.rmtree(path, ignore_errors=True)


def _read_results(results_xml):
    """``(n_tests, failed test names)`` from a cocotb results file, or None."""
    if not results_xml.is_file():
        return None
    n_tests, failed = 0, []
    root = ElementTree.parse(results_xml).getroot()
    for case in root.iter("testcase"):
        n_tests += 1
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(case.get("name", "?"))
    return n_tests, failed


def run_cocotb(verilog, toplevel, test_module, simulator, build_key="design", extra_env=None,
               waves=False, testcase=None, seed=None, timescale=("1ns", "1ps"),
               build_args=(), plusargs=(), build_root=DEFAULT_BUILD_ROOT, capture_log=True,
               public_modules=None):
    """Build (or reuse) a design and run cocotb tests on it.

    Parameters
    ----------
    verilog : str or list of (str or Path)
        Verilog source text (a ``str``), or a list of source files (paths, or
        source texts, recognisable by their newlines).
    toplevel : str
        The top module's name.
    test_module : str
        Importable module holding the ``@cocotb.test`` functions (e.g.
        ``"sim.tb_accel"``).
    simulator : {"verilator", "icarus"}
    build_key : str
        Readable prefix of the cache directory (a hash of the build inputs is
        appended, so the key only needs to be descriptive).
    extra_env : dict of str, optional
        Environment for the cocotb test process (e.g. a config file path).
    waves : bool
        Record a trace (FST on Icarus, VCD on Verilator). A traced build is
        cached separately from the untraced one.
    testcase : str or list of str, optional
        Run only these cocotb tests.
    seed : int, optional
        cocotb's random seed.
    timescale : (str, str)
        Time unit and precision.
    build_args : sequence of str
        Extra simulator compile arguments (Verilator always gets
        :data:`VERILATOR_LINT_ARGS` too).
    plusargs : sequence of str
        ``+name=value`` arguments for the simulation.
    build_root : Path
        Root of the build cache.
    capture_log : bool
        Write the simulation output to ``run_dir/sim.log`` instead of the
        terminal.
    public_modules : list of str, optional
        Verilator only: make only these modules' signals visible to cocotb
        (default: every signal, cocotb's ``--public-flat-rw``). A testbench
        that only touches its top module's ports runs several times faster.

    Returns
    -------
    CocotbRun
        ``status`` is ``"skipped"`` (with ``reason`` naming what is missing)
        when the simulator is not usable; failures of the build or of a test
        come back as ``"failed"`` rather than as an exception.
    """
    status = check_simulator(simulator)
    if not status.available:
        return CocotbRun(simulator, "skipped", reason=f"{simulator}: {status.reason}")
    from cocotb_tools.runner import get_runner

    sources = _sources_from(verilog)
    restrict = simulator == "verilator" and public_modules is not None
    if restrict:
        sources.append(("public.vlt", _public_control_file(public_modules)))
    if simulator == "verilator":
        build_args = VERILATOR_LINT_ARGS + tuple(build_args)
    build_dir = build_dir_for(verilog, toplevel, simulator, build_key, waves, timescale,
                              build_args, build_root)
    run_dir = build_dir.parent / "runs" / f"{simulator}-{os.getpid()}-{next(_run_counter)}"
    _prune_runs(run_dir.parent)
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    result = CocotbRun(simulator, "failed", build_dir=build_dir, run_dir=run_dir,
                       log_file=run_dir / "sim.log" if capture_log else None)

    # The cocotb runner reads WAVES from the environment and lets it override
    # the argument; the caller's choice is what must hold here.
    with _environment(WAVES="1" if waves else "0"):
        runner = _verilator_runner_public_only() if restrict else get_runner(simulator)
        stamp = build_dir / _STAMP
        with _locked(build_dir.parent / f".{build_dir.name}.lock"):
            if not stamp.is_file():
                source_dir = build_dir.parent / "src"
                source_dir.mkdir(parents=True, exist_ok=True)
                paths = []
                for name, text in sources:
                    path = source_dir / name
                    if not path.is_file() or path.read_text() != text:
                        write_text(path, text)
                    paths.append(path)
                shutil.rmtree(build_dir, ignore_errors=True)
                start = time.perf_counter()
                try:
                    runner.build(sources=paths, hdl_toplevel=toplevel, build_dir=build_dir,
                                 waves=waves, timescale=timescale, build_args=list(build_args),
                                 always=True, log_file=run_dir / "build.log")
                except (RuntimeError, SystemExit) as error:
                    result.reason = (f"{simulator} build of {toplevel} failed ({error}); "
                                     f"see {run_dir / 'build.log'}")
                    result.log_file = run_dir / "build.log"
                    return result
                result.build_seconds = time.perf_counter() - start
                result.built = True
                write_text(stamp, f"{toplevel}\n")
        results_xml = run_dir / "results.xml"
        plusargs = list(plusargs)
        if waves and simulator == "icarus":
            # Icarus' default trace path is inside the shared build directory.
            plusargs.append(f"+dumpfile_path={run_dir / (toplevel + '.fst')}")
        start = time.perf_counter()
        try:
            runner.test(test_module=test_module, hdl_toplevel=toplevel,
                        hdl_toplevel_lang="verilog", build_dir=build_dir, test_dir=run_dir,
                        results_xml=str(results_xml), extra_env=dict(extra_env or {}),
                        waves=waves, testcase=testcase, seed=seed, timescale=timescale,
                        plusargs=plusargs, log_file=result.log_file)
        except SystemExit as error:
            # Under pytest the cocotb runner exits on a failing test; the
            # results file below says which.
            result.reason = f"simulator exited with {error.code}"
        except RuntimeError as error:
            result.reason = str(error)
        result.test_seconds = time.perf_counter() - start

    parsed = _read_results(results_xml)
    if parsed is None:
        result.reason = (f"{simulator}: simulation ended without a results file "
                         f"({result.reason or 'no reason given'}); see {result.log_file}")
        return result
    result.n_tests, result.failed_tests = parsed
    result.n_failed = len(result.failed_tests)
    if waves:
        name = f"{toplevel}.fst" if simulator == "icarus" else "dump.vcd"
        if (run_dir / name).is_file():
            result.waves_file = run_dir / name
    if result.n_tests and not result.n_failed:
        result.status, result.reason = "passed", ""
    else:
        result.status = "failed"
        if result.failed_tests:
            result.reason = f"{simulator}: failed cocotb tests: {', '.join(result.failed_tests)}"
        elif not result.reason:
            result.reason = f"{simulator}: no cocotb test ran (check test_module/testcase)"
    return result
