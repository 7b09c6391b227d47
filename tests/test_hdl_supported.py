"""The hardware generator refuses QNets with convolution, pool or flatten layers, clearly."""

import pytest
from qnet_conv_nets import conv_qnet

from hdl.accelerator import Accelerator
from hdl.errors import HardwareGenerationError
from mulfree.cli import main


def test_accelerator_names_the_layer_kind():
    with pytest.raises(HardwareGenerationError,
                       match="qnet: layer 0 is a conv2d layer; the hardware generator builds "
                             "dense layers only"):
        Accelerator(conv_qnet())


@pytest.mark.parametrize("command", [
    ["generate", "{model}", "--out", "{tmp}/a.v"],
    ["build", "--board", "icebreaker", "--model", "{model}", "--out", "{tmp}/b"],
    ["run", "--port", "/dev/null", "--dataset", "digits", "--model", "{model}"],
    ["sim", "--model", "{model}", "--dataset", "digits"],
])
def test_commands_exit_2_with_one_line(tmp_path, capsys, command):
    model = tmp_path / "conv.qnet.npz"
    conv_qnet().save(model)
    argv = [part.format(model=model, tmp=tmp_path) for part in command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{model}: layer 0 is a conv2d layer" in err and err.count("\n") == 1
    assert not (tmp_path / "a.v").exists() and not (tmp_path / "b").exists()
