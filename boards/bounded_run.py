"""Run one build tool with a time bound, optionally watching its log for a stall.

A tool that exceeds its bound (or whose router stops making progress) is
killed with its whole process group, so that nothing keeps running after
the build has given up on it.

Members
-------
run_bounded
    Run a command; returns a :class:`ToolRun`.
ToolRun
    How it ended, its output and how long it took.
"""

import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: How a run ended.
OUTCOMES = ("ok", "failed", "timeout", "stalled")


@dataclass
class ToolRun:
    """The end of a bounded tool run.

    Members
    -------
    outcome : {"ok", "failed", "timeout", "stalled"}
    returncode : int or None
        None when the run was killed.
    output : str
        Its standard output and error.
    seconds : float
        Wall time.
    detail : str
        For ``stalled``: what the router was doing (:meth:`RouteWatch.describe`).
    """

    outcome: str
    returncode: int | None
    output: str
    seconds: float
    detail: str = ""


def _kill_group(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def run_bounded(argv, *, cwd, env, timeout_s, log_path=None, watch=None, poll_s=0.5):
    """Run ``argv`` in ``cwd`` for at most ``timeout_s`` seconds.

    Parameters
    ----------
    argv : list of str
    cwd : path
    env : dict
    timeout_s : float
        Wall-clock bound of the whole run.
    log_path : path, optional
        The tool's log file, read as it grows and fed to ``watch``.
    watch : RouteWatch, optional
        Declares a stall; the run is then killed with outcome ``"stalled"``.
    poll_s : float
        How often the run and its log are looked at.

    Returns
    -------
    ToolRun
    """
    log_path = Path(cwd, log_path) if log_path is not None else None
    start = time.monotonic()
    offset = 0
    with tempfile.TemporaryFile() as output:
        # A session of its own, so that a kill reaches every process the tool started.
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        outcome = None
        while outcome is None:
            try:
                process.wait(timeout=poll_s)
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic() - start
            if watch is not None and log_path is not None and log_path.exists():
                with open(log_path, "rb") as handle:
                    handle.seek(offset)
                    data = handle.read()
                offset += len(data)
                watch.feed(data.decode("utf-8", "replace"), now)
            if process.returncode is not None:
                outcome = "ok" if process.returncode == 0 else "failed"
            elif watch is not None and watch.stalled(now):
                _kill_group(process)
                outcome = "stalled"
            elif now > timeout_s:
                _kill_group(process)
                outcome = "timeout"
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    returncode = process.returncode if outcome in ("ok", "failed") else None
    detail = watch.describe() if watch is not None else ""
    return ToolRun(outcome, returncode, text, time.monotonic() - start, detail)
