"""The ``mulfree`` dispatcher: subcommand table, lazy import, error reporting."""

import argparse
import importlib
import sys
import types

import pytest

from golden_model.errors import MulfreeError
from mulfree import cli


def _fake_module(monkeypatch, name, main):
    module = types.ModuleType(name)

    def configure(parser):
        parser.add_argument("--value", type=int, default=1)

    module.configure = configure
    module.main = main
    monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setitem(cli.SUBCOMMANDS, "fake", (name, "a fake command"))
    return module


def test_every_subcommand_module_is_named_in_its_owning_package():
    owners = {"golden_model", "hdl", "sim", "boards", "sweep", "mulfree"}
    for name, (module_name, help_text) in cli.SUBCOMMANDS.items():
        assert module_name.split(".")[0] in owners, name
        assert help_text


def test_dispatch_passes_parsed_arguments_and_exit_code(monkeypatch):
    seen = {}

    def main(args):
        seen["value"] = args.value
        return 3

    _fake_module(monkeypatch, "fake_cmd_ok", main)
    assert cli.main(["fake", "--value", "7"]) == 3
    assert seen == {"value": 7}


def test_user_error_is_one_line_and_exit_code_2(monkeypatch, capsys):
    def main(args):
        raise MulfreeError("data/x.idx: expected magic 2051, got 17")

    _fake_module(monkeypatch, "fake_cmd_err", main)
    assert cli.main(["fake"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "mulfree fake: error: data/x.idx: expected magic 2051, got 17"


def test_unknown_subcommand_is_rejected(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["no-such-command"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(cli.SUBCOMMANDS))
def test_subcommand_modules_exist_and_configure(name):
    module = importlib.import_module(cli.SUBCOMMANDS[name][0])
    parser = argparse.ArgumentParser()
    module.configure(parser)
    assert callable(module.main)


def test_a_reader_that_goes_away_is_no_traceback(tmp_path):
    """``mulfree inspect m.qnet.npz | head -1``: the pipe closes before the table is out."""
    import subprocess

    from boards_qnets import make_qnet

    path = tmp_path / "m.qnet.npz"
    make_qnet(sizes=(64, 512, 512, 10), in_bits=5).save(path)
    process = subprocess.Popen([sys.executable, "-m", "mulfree", "inspect", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) in (0, 1)
    assert stderr == ""
