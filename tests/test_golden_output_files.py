"""Atomic outputs and output paths checked up front (golden_model.output_files)."""

import errno
import json
import os
import stat

import matplotlib
import pytest

from golden_model import output_files
from golden_model.errors import MulfreeError
from golden_model.output_files import (
    OutputFileError,
    atomic_output,
    check_output_dir,
    check_output_file,
    copy_file,
    save_figure,
    write_bytes,
    write_json,
    write_text,
)

matplotlib.use("Agg")


def disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture
def existing(tmp_path):
    path = tmp_path / "accel.v"
    path.write_bytes(b"module previous;\nendmodule\n")
    return path


# --- writing -------------------------------------------------------------------------


def test_write_text_replaces_the_file_and_leaves_no_temporary(existing):
    write_text(existing, "module new;\nendmodule\n")
    assert existing.read_text() == "module new;\nendmodule\n"
    assert leftovers(existing.parent) == []


def test_write_creates_missing_parent_folders(tmp_path):
    path = write_bytes(tmp_path / "a" / "b" / "x.bin", b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"


def test_new_file_gets_umask_permissions_not_mkstemp_0600(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_text(tmp_path / "new.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_replaced_file_keeps_its_permissions(existing):
    existing.chmod(0o640)
    write_text(existing, "y")
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640


def test_write_json_ends_with_newline_and_round_trips(tmp_path):
    path = write_json(tmp_path / "r.json", {"b": 1, "a": [1, 2]}, sort_keys=True)
    assert path.read_text().endswith("}\n")
    assert json.loads(path.read_text()) == {"a": [1, 2], "b": 1}


def test_write_json_unserialisable_value_leaves_existing_file(existing):
    before = existing.read_bytes()
    with pytest.raises(TypeError):
        write_json(existing, {"x": object()})
    assert existing.read_bytes() == before
    assert leftovers(existing.parent) == []


@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
def test_disk_full_leaves_existing_file_byte_identical(existing, monkeypatch, where):
    before = existing.read_bytes()
    if where == "write":
        with pytest.raises(OutputFileError) as info, atomic_output(existing, "wb") as handle:
            handle.write(b"partial")
            disk_full()
    else:
        monkeypatch.setattr(output_files.os, where, disk_full)
        with pytest.raises(OutputFileError) as info:
            write_text(existing, "module truncated")
    assert existing.read_bytes() == before
    assert leftovers(existing.parent) == []
    message = str(info.value)
    assert str(existing) in message and "No space left on device" in message
    assert "\n" not in message


def test_error_names_the_option(existing, monkeypatch):
    monkeypatch.setattr(output_files.os, "replace", disk_full)
    with pytest.raises(OutputFileError, match=r"^--out: .*accel\.v: cannot write"):
        write_text(existing, "x", what="--out")


def test_exception_in_block_propagates_and_removes_temporary(existing):
    before = existing.read_bytes()
    with pytest.raises(KeyError), atomic_output(existing) as handle:
        handle.write(b"half")
        raise KeyError("boom")
    assert existing.read_bytes() == before
    assert leftovers(existing.parent) == []


def test_output_file_error_is_a_mulfree_error():
    assert issubclass(OutputFileError, MulfreeError)


def test_write_to_a_folder_is_refused(tmp_path):
    with pytest.raises(OutputFileError, match="is a folder"):
        write_text(tmp_path, "x")


def test_write_under_a_regular_file_is_refused(existing):
    with pytest.raises(OutputFileError, match="cannot create the folder"):
        write_text(existing / "sub" / "x.txt", "x")


def test_write_through_a_symlink_replaces_the_target(existing):
    link = existing.parent / "link.v"
    link.symlink_to(existing.name)
    write_text(link, "new")
    assert link.is_symlink()
    assert existing.read_text() == "new"


def test_save_figure_uses_the_suffix_format_and_is_atomic(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(1, 1))
    path = save_figure(fig, tmp_path / "plot.png", dpi=20)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = save_figure(fig, tmp_path / "plot.svg")
    assert b"<svg" in svg.read_bytes()[:500]
    before = path.read_bytes()
    monkeypatch.setattr(output_files.os, "fsync", disk_full)
    with pytest.raises(OutputFileError):
        save_figure(fig, path, dpi=30)
    plt.close(fig)
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_copy_file_copies_and_keeps_destination_on_failure(tmp_path, existing, monkeypatch):
    source = tmp_path / "src.bin"
    source.write_bytes(bytes(range(256)) * 100)
    out = copy_file(source, tmp_path / "out" / "top.bin")
    assert out.read_bytes() == source.read_bytes()
    before = existing.read_bytes()
    monkeypatch.setattr(output_files.os, "replace", disk_full)
    with pytest.raises(OutputFileError):
        copy_file(source, existing)
    assert existing.read_bytes() == before


def test_copy_file_missing_source_names_it(tmp_path):
    with pytest.raises(OutputFileError, match="cannot read .*missing.bin"):
        copy_file(tmp_path / "missing.bin", tmp_path / "out.bin", what="--out")
    assert not (tmp_path / "out.bin").exists()


# --- checking paths ------------------------------------------------------------------


def test_check_output_file_accepts_new_and_existing_files(tmp_path, existing):
    assert check_output_file(existing, "--out") == existing
    check_output_file(tmp_path / "new" / "deeper" / "x.v", "--out")
    assert not (tmp_path / "new").exists()  # a check creates nothing


@pytest.mark.parametrize("path, message", [
    ("/proc/x.npz", "under /proc"),
    ("/sys/kernel/x.json", "under /sys"),
    ("/dev/null", "not a regular file"),
])
def test_check_output_file_refuses_system_paths(path, message):
    with pytest.raises(OutputFileError, match=f"^--out: {path}: .*{message}"):
        check_output_file(path, "--out")


def test_check_output_file_refuses_a_folder(tmp_path):
    with pytest.raises(OutputFileError, match="is a folder; expected a file path"):
        check_output_file(tmp_path, "--out")


def test_check_output_file_refuses_a_file_used_as_folder(existing):
    with pytest.raises(OutputFileError, match=r"accel\.v is a file, not a folder"):
        check_output_file(existing / "sub" / "x.v", "--out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_check_output_file_refuses_an_unwritable_parent(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(OutputFileError, match="not writable"):
        check_output_file(locked / "x.v", "--out")
    with pytest.raises(OutputFileError, match="not writable"):
        check_output_file(locked / "a" / "x.v", "--out")


def test_check_output_dir_accepts_new_and_existing_folders(tmp_path):
    assert check_output_dir(tmp_path, "--out-dir") == tmp_path
    check_output_dir(tmp_path / "a" / "b", "--out-dir")
    assert not (tmp_path / "a").exists()


def test_check_output_dir_refuses_an_existing_file(existing):
    with pytest.raises(OutputFileError, match="is a file; expected a folder"):
        check_output_dir(existing, "--out-dir")


def test_check_output_dir_refuses_a_file_on_the_way(existing):
    with pytest.raises(OutputFileError, match=r"accel\.v is a file, not a folder"):
        check_output_dir(existing / "a" / "b", "--out-dir")


def test_check_output_dir_refuses_proc():
    with pytest.raises(OutputFileError, match="^--out-dir: /proc/demo: is under /proc"):
        check_output_dir("/proc/demo", "--out-dir")


# --- the savers built on it ----------------------------------------------------------


def test_qnet_save_on_a_full_disk_keeps_the_previous_file(tmp_path, monkeypatch):
    from boards_qnets import make_qnet

    path = tmp_path / "net.qnet.npz"
    make_qnet().save(path)
    before = path.read_bytes()
    monkeypatch.setattr(output_files.os, "fsync", disk_full)
    with pytest.raises(OutputFileError, match="No space left on device"):
        make_qnet(seed=1).save(path)
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_save_model_on_a_full_disk_keeps_the_previous_file(tmp_path, monkeypatch):
    import numpy as np

    from golden_model.model_io import save_model
    from golden_model.network import NetworkConfig, build_network

    network = build_network(NetworkConfig(sizes=(4, 3, 2)), np.zeros(4),
                            np.random.default_rng(0))
    path = tmp_path / "model.npz"
    save_model(path, network)
    before = path.read_bytes()
    monkeypatch.setattr(output_files.os, "replace", disk_full)
    with pytest.raises(OutputFileError, match="model.npz: cannot write"):
        save_model(path, network)
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []
