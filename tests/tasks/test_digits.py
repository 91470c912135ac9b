import gzip

import numpy as np
import pytest
import torch

from nalm.errors import NalmError
from nalm.tasks.digits import load_mnist, load_sklearn_digits, read_idx, write_idx


def make_mnist(directory, n_train=12, n_test=5, gz=False):
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, array in files.items():
        path = write_idx(directory / name, array)
        if gz:
            (directory / (name + ".gz")).write_bytes(gzip.compress(path.read_bytes()))
            path.unlink()
    return files


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_from_generated_idx_files(tmp_path, gz):
    files = make_mnist(tmp_path, gz=gz)
    images = load_mnist(tmp_path)
    assert images.shape == (28, 28) and images.pixels == 784
    assert images.train_x.shape == (12, 784) and images.test_x.shape == (5, 784)
    expected = torch.tensor(files["train-images-idx3-ubyte"].reshape(12, -1) / 255.0)
    torch.testing.assert_close(images.train_x.double(), expected, atol=1e-7, rtol=0)
    assert images.test_y.tolist() == files["t10k-labels-idx1-ubyte"].tolist()


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip_every_type(tmp_path, dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    back = read_idx(write_idx(tmp_path / "a.idx", array))
    assert back.dtype == array.dtype and np.array_equal(back, array)


def test_truncated_and_wrong_magic_files_give_one_sentence(tmp_path):
    path = write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 4, 4), dtype=np.uint8))
    data = path.read_bytes()
    (tmp_path / "cut").write_bytes(data[:-5])
    with pytest.raises(
        NalmError, match=r"cut is truncated: its header promises 48 bytes .* has 43$"
    ):
        read_idx(tmp_path / "cut")
    (tmp_path / "cut_header").write_bytes(data[:9])
    with pytest.raises(NalmError, match="truncated: its header needs 16 bytes, the file has 9"):
        read_idx(tmp_path / "cut_header")
    (tmp_path / "magic").write_bytes(b"\x1f\x8b" + data[2:])
    with pytest.raises(NalmError, match=r"magic is not an IDX file: its magic number is 1f8b0803"):
        read_idx(tmp_path / "magic")
    (tmp_path / "type").write_bytes(b"\x00\x00\x07\x03" + data[4:])
    with pytest.raises(NalmError, match="not an IDX file"):
        read_idx(tmp_path / "type")
    (tmp_path / "tiny").write_bytes(b"\x00\x00")
    with pytest.raises(NalmError, match="fewer than a header"):
        read_idx(tmp_path / "tiny")


def test_mnist_directory_errors(tmp_path):
    make_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(NalmError, match="has no t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(4, dtype=np.uint8))
    with pytest.raises(NalmError, match="5 test images but 4 test labels"):
        load_mnist(tmp_path)
    with pytest.raises(NalmError, match="is not a directory"):
        load_mnist(tmp_path / "nope")


def test_sklearn_digits_split_is_disjoint_and_scaled():
    images = load_sklearn_digits(test_fraction=0.3, seed=0)
    assert images.shape == (8, 8)
    assert len(images.train_x) + len(images.test_x) == 1797
    assert len(images.test_x) == 539
    assert float(images.train_x.min()) >= 0.0 and float(images.train_x.max()) == 1.0
    train = {tuple(r) for r in images.train_x.tolist()}
    test = {tuple(r) for r in images.test_x.tolist()}
    # different images (a few digits in the set are exact duplicates of each other)
    assert len(train & test) <= 5
    assert set(images.train_y.tolist()) == set(range(10))


def test_mnist_shape_mismatch_and_corrupt_gzip(tmp_path):
    make_mnist(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((5, 27, 28), dtype=np.uint8))
    with pytest.raises(NalmError, match="training images are 28x28 but the test images 27x28"):
        load_mnist(tmp_path)
    bad = tmp_path / "x.gz"
    bad.write_bytes(
        gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05" + b"\x01" * 5)[:-12] + b"junkjunkjunk"
    )
    with pytest.raises(NalmError, match=r"cannot read .*x\.gz"):
        read_idx(bad)
