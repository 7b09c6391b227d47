"""Bounded tool runs: outcome, output, and nothing left running after a kill."""

import os
import sys
import time

from boards.bounded_run import run_bounded
from boards.route_progress import RouteWatch


def test_a_run_that_ends_in_time_keeps_its_output_and_exit_code(tmp_path):
    ok = run_bounded([sys.executable, "-c", "print('hello')"], cwd=tmp_path,
                     env=dict(os.environ), timeout_s=60)
    assert (ok.outcome, ok.returncode, ok.output.strip()) == ("ok", 0, "hello")
    failed = run_bounded([sys.executable, "-c", "import sys; print('bad'); sys.exit(3)"],
                         cwd=tmp_path, env=dict(os.environ), timeout_s=60)
    assert (failed.outcome, failed.returncode, failed.output.strip()) == ("failed", 3, "bad")


def test_a_run_past_its_bound_is_killed_with_its_children(tmp_path):
    marker = tmp_path / "child.pid"
    # the tool starts a child of its own, as the YoWASP launchers do
    script = (f"import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', "
              f"'import time; time.sleep(60)']); open({str(marker)!r}, 'w').write(str(p.pid)); "
              f"time.sleep(60)")
    start = time.monotonic()
    run = run_bounded([sys.executable, "-c", script], cwd=tmp_path, env=dict(os.environ),
                      timeout_s=1.0, poll_s=0.1)
    assert run.outcome == "timeout" and run.returncode is None
    assert time.monotonic() - start < 10
    child = int(marker.read_text())
    time.sleep(0.2)
    try:
        os.kill(child, 0)
        alive = os.waitpid(child, os.WNOHANG) == (0, 0)
    except (ProcessLookupError, ChildProcessError):
        alive = False
    assert not alive


def test_a_router_without_progress_is_stopped_as_stalled(tmp_path):
    # writes the same router1 figure forever, as a stalled router1 does
    line = "Info:       1000 |       32        967 |   32   967 |      3836|  0.8  0.8|"
    script = (f"import time\nwith open('pnr.log', 'w') as f:\n"
              f"    f.write('Info: Routing..\\n'); f.flush()\n"
              f"    while True:\n        f.write({line!r} + '\\n'); f.flush(); time.sleep(0.05)\n")
    run = run_bounded([sys.executable, "-c", script], cwd=tmp_path, env=dict(os.environ),
                      timeout_s=60, log_path="pnr.log", watch=RouteWatch(stall_s=1.0),
                      poll_s=0.1)
    assert run.outcome == "stalled" and run.seconds < 30
    assert run.detail == "routing, 3836 remaining (best 3836)"
