"""The tool commands of an Amaranth build script, to run one at a time.

Amaranth writes ``build_<name>.sh``: one line per tool, each starting with
the tool's variable (``"$YOSYS" -q -l top.rpt top.ys``). The build runs those
lines itself rather than the script as a whole, so that each tool gets its own
time bound, the netlist can be adjusted between synthesis and
place-and-route, and place-and-route can be retried with other options.

Members
-------
ToolStep
    One tool command.
script_steps
    The steps of a script, with the tool variables resolved.
"""

import shlex
from dataclasses import dataclass

from golden_model.errors import MulfreeError


@dataclass(frozen=True)
class ToolStep:
    """One tool command of a build script.

    Members
    -------
    tool : str
        The amaranth tool name (``yosys``, ``nextpnr-ice40``, ``icepack``, ...).
    argv : tuple of str
        The command, with the tool variable replaced by its value.
    """

    tool: str
    argv: tuple

    def option(self, flag):
        """The value after ``flag`` in ``argv``, or None."""
        args = list(self.argv)
        return args[args.index(flag) + 1] if flag in args[:-1] else None

    def with_options(self, *extra):
        """The same step with ``extra`` arguments appended."""
        return ToolStep(self.tool, self.argv + tuple(extra))


def script_steps(script_text, env, tools):
    """The tool commands of an Amaranth ``build_<name>.sh``.

    Parameters
    ----------
    script_text : str
    env : dict
        Holds each tool's variable (as :func:`boards.toolchain.toolchain_env` sets them).
    tools : iterable of str
        The amaranth tool names the script may run.

    Returns
    -------
    list of ToolStep

    Raises
    ------
    MulfreeError
        If a line names an unknown tool or the script runs none.
    """
    by_var = {tool.upper().replace("-", "_"): tool for tool in tools}
    steps = []
    for line in script_text.splitlines():
        if not line.startswith('"$'):
            continue
        argv = shlex.split(line)
        var = argv[0][1:]
        if var not in by_var or not env.get(var):
            raise MulfreeError(f"build script line {line!r}: tool ${var} is not one of "
                               f"{sorted(by_var)}")
        steps.append(ToolStep(by_var[var], (env[var], *argv[1:])))
    if not steps:
        raise MulfreeError("build script: no tool command found")
    return steps
