"""``mulfree demo`` refuses an output folder it cannot fill before training anything."""

import pytest

from golden_model.output_files import OutputFileError
from mulfree.cli import main
from mulfree.demo import DemoConfig, run_demo


@pytest.fixture
def no_training(monkeypatch):
    import golden_model.datasets

    def never(*args, **kwargs):
        raise AssertionError("the demo started training before its outputs were checked")

    monkeypatch.setattr(golden_model.datasets, "load_dataset", never)


@pytest.mark.parametrize("out_dir, message", [
    ("/proc/demo", "--out-dir: /proc/demo: is under /proc"),
    ("{tmp}/file.txt", "file.txt: is a file; expected a folder"),
    ("{tmp}/file.txt/demo", "file.txt is a file, not a folder"),
    ("{tmp}/taken", "accel.v: is a folder; expected a file path"),
    ("{tmp}/board", "icebreaker: is a file; expected a folder"),
])
def test_command_line_refuses_bad_out_dir_at_once(tmp_path, capsys, no_training, out_dir,
                                                  message):
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "taken" / "accel.v").mkdir(parents=True)
    (tmp_path / "board").mkdir()
    (tmp_path / "board" / "icebreaker").write_text("not a folder")
    assert main(["demo", "--quiet", "--out-dir", out_dir.format(tmp=tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_python_api_refuses_bad_out_dir_before_training(tmp_path, no_training):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(OutputFileError, match="^out_dir: .*file.txt: is a file"):
        run_demo(DemoConfig(out_dir=str(tmp_path / "file.txt")), log=lambda line: None)
    assert (tmp_path / "file.txt").read_text() == "x"


def test_a_board_folder_is_only_needed_with_a_bitstream(tmp_path, capsys, monkeypatch):
    import mulfree.demo

    ran = []
    monkeypatch.setattr(mulfree.demo, "run_demo", ran.append)
    (tmp_path / "icebreaker").write_text("not a folder")
    assert main(["demo", "--out-dir", str(tmp_path), "--no-bitstream"]) == 0
    assert ran and ran[0].board is None
