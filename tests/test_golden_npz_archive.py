"""NpzArchive: .npz members read only after their declared sizes are checked."""

import io
import zipfile

import numpy as np
import pytest

from golden_model.npz_archive import NPY_HEADER_MAX, ArchiveError, NpzArchive


def npy(array):
    handle = io.BytesIO()
    np.save(handle, array)
    return handle.getvalue()


def make(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return path


def opened(path, **limits):
    return NpzArchive(path, max_file_bytes=limits.get("max_file_bytes", 1 << 20),
                      max_members=limits.get("max_members", 10))


@pytest.mark.parametrize("array", [
    np.arange(12, dtype=np.int64).reshape(3, 4), np.asfortranarray(np.eye(3, dtype=np.float32)),
    np.zeros((0, 5), np.int8), np.array(3.5), np.array("text"),
])
def test_round_trip_of_what_np_savez_writes(tmp_path, array):
    path = tmp_path / "a.npz"
    np.savez_compressed(path, a=array)
    with opened(path) as archive:
        assert archive.names() == {"a"}
        member = archive.open_member("a", array.nbytes)
        assert (member.dtype, member.shape) == (array.dtype, array.shape)
        got = member.read()
    np.testing.assert_array_equal(got, array)
    assert got.flags.writeable


def error_of(call):
    with pytest.raises(ArchiveError) as info:
        call()
    return info.value


def test_file_level_refusals(tmp_path):
    big = tmp_path / "big.npz"
    big.write_bytes(b"\0" * 100)
    assert "100 bytes; at most 99" in str(error_of(lambda: opened(big, max_file_bytes=99)))
    bare = tmp_path / "bare.npz"
    bare.write_bytes(npy(np.zeros(3)))
    error = error_of(lambda: opened(bare))
    assert error.member is None and "a single .npy array" in str(error)
    many = make(tmp_path / "many.npz", {f"{k}.npy": npy(np.zeros(1)) for k in range(4)})
    assert "4 members; at most 3" in str(error_of(lambda: opened(many, max_members=3)))


def test_member_level_refusals(tmp_path):
    raw = make(tmp_path / "raw.npz", {"a.npy": npy(np.zeros(1)), "b.bin": b"x"})
    error = error_of(lambda: opened(raw))
    assert error.member == "b.bin" and "expected only .npy arrays" in str(error)
    pickled = make(tmp_path / "p.npz", {"a.npy": npy(np.array([None, 1], dtype=object))})
    with opened(pickled) as archive:
        error = error_of(lambda: archive.open_member("a", 100))
    assert error.member == "a" and "Object arrays cannot be loaded" in str(error)


def test_a_member_declaring_more_than_needed_is_refused_before_decompressing(tmp_path):
    path = make(tmp_path / "bomb.npz", {"a.npy": npy(np.zeros(1 << 22, np.uint8))},
                zipfile.ZIP_DEFLATED)
    with opened(path) as archive:
        assert archive.declared_size("a") > (1 << 22)
        error = error_of(lambda: archive.open_member("a", 1000))
        assert "declares" in str(error) and "at most 1000 bytes of data" in str(error)
        # within the bound (plus a .npy header's worth) it is read
        assert archive.open_member("a", (1 << 22) - NPY_HEADER_MAX + 200).read().size == 1 << 22


def test_a_shape_larger_than_the_data_is_refused_before_allocating(tmp_path):
    handle = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        handle, {"descr": "|i1", "fortran_order": False, "shape": (100_000, 100_000)})
    path = make(tmp_path / "lie.npz", {"a.npy": handle.getvalue() + b"\1" * 10})
    with opened(path) as archive:
        member = archive.open_member("a", 10)
        assert member.nbytes == 10**10
        error = error_of(member.read)
    assert "holds 10 bytes of data; its shape (100000, 100000) of int8 needs 10000000000" \
        in str(error)


def test_damaged_data_fails_its_crc(tmp_path):
    path = tmp_path / "crc.npz"
    np.savez(path, a=np.arange(100, dtype=np.int64))
    data = bytearray(path.read_bytes())
    data[data.index(npy(np.arange(100, dtype=np.int64))[-8:])] ^= 1
    path.write_bytes(bytes(data))
    with opened(path) as archive:
        error = error_of(lambda: archive.open_member("a", 800).read())
    assert "not a readable .npy member (BadZipFile: Bad CRC-32" in str(error)
