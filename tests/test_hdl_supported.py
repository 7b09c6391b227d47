"""The generator builds convolutional QNets it has units for and refuses the rest clearly;
the flows not yet verified on them refuse them clearly."""

import pytest
from qnet_conv_nets import conv_qnet, digits_cnn, pool_first_qnet

from hdl.accelerator import Accelerator
from hdl.errors import HardwareGenerationError
from hdl.supported import check_supported
from mulfree.cli import main


def test_accelerator_names_the_layer_kind():
    with pytest.raises(HardwareGenerationError,
                       match="qnet: layer 0 is a maxpool2d layer after the input; the hardware "
                             "generator builds a max-pool only right after a convolution"):
        Accelerator(pool_first_qnet())


def test_convolution_flatten_and_pool_accepted():
    check_supported(digits_cnn(), maps=True)
    check_supported(digits_cnn(pool=True), maps=True)
    check_supported(conv_qnet(), maps=True)  # a pool of power-of-two codes
    with pytest.raises(HardwareGenerationError, match="layer 0 is a conv2d layer; this flow "
                                                      "runs dense layers only"):
        check_supported(digits_cnn())


@pytest.mark.parametrize("command,message", [
    (["generate", "{model}", "--out", "{tmp}/a.v"], "layer 0 is a maxpool2d layer after"),
    (["build", "--board", "icebreaker", "--model", "{model}", "--out", "{tmp}/b"],
     "layer 0 is a maxpool2d layer"),
    (["run", "--port", "/dev/null", "--dataset", "digits", "--model", "{model}"],
     "layer 0 is a maxpool2d layer"),
    (["sim", "--model", "{model}", "--dataset", "digits"], "layer 0 is a maxpool2d layer"),
])
def test_commands_exit_2_with_one_line(tmp_path, capsys, command, message):
    model = tmp_path / "conv.qnet.npz"
    pool_first_qnet().save(model)
    argv = [part.format(model=model, tmp=tmp_path) for part in command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{model}: {message}" in err and err.count("\n") == 1
    assert not (tmp_path / "a.v").exists() and not (tmp_path / "b").exists()


def test_generate_builds_a_digits_cnn(tmp_path, capsys):
    import json

    model = tmp_path / "cnn.qnet.npz"
    digits_cnn(pool=True).save(model)
    out = tmp_path / "cnn.v"
    assert main(["generate", str(model), "--out", str(out),
                 "--folding", "4:9,6:36,1:1,1:1,10:6"]) == 0
    assert "module mulfree_accel" in out.read_text()
    assert "cycles/image" in capsys.readouterr().out
    report = json.loads((tmp_path / "cnn.estimate.json").read_text())
    assert report["pools"][0]["layer"] == 1
    # 4 line slots of 8 words of 5 bits.
    assert report["layers"][0]["memory_bits"]["line_buffer"] == 4 * 8 * 5
    # conv1: 64 windows of 9 beats (one channel a beat) and a cycle per output row.
    assert report["layers"][0]["cycles_per_image"] == 64 * 9 + 8 == report["cycles_per_image"]
