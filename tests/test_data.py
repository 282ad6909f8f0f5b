"""harness.data: IDX / CIFAR-10 readers, safe unpickling, data-dir resolution, fallback, split helpers.

Real files come from `shared_data_dir()` (../shared/data) when present; the rest is synthetic in tmp_path.
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from harness import data
from harness.data import (
    ENV_VAR,
    Dataset,
    load,
    one_hot,
    read_cifar_bin,
    read_cifar_py,
    read_idx,
    read_idx_pair,
    resolve_data_dir,
    safe_unpickle,
    shared_data_dir,
    train_val_split,
)
from harness.errors import DataError

SHARED = shared_data_dir()


def shared(sub: str):
    if SHARED is None or not (SHARED / sub).is_dir():
        pytest.skip(f"../shared/data/{sub} not present (see ../shared/data/README.md)")
    return SHARED


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


# ---------------------------------------------------------------------------------------------------------
# Synthetic files

_CODES = {"u1": 0x08, "i1": 0x09, ">i2": 0x0B, ">i4": 0x0C, ">f4": 0x0D, ">f8": 0x0E}


def idx_bytes(a: np.ndarray) -> bytes:
    big_endian = a.dtype.newbyteorder(">")
    header = bytes([0, 0, _CODES[big_endian.str.lstrip("|")], a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    return header + a.astype(big_endian).tobytes()


def write(path, content: bytes, gz: bool = False):
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        content = gzip.compress(content, mtime=0)
    path.write_bytes(content)
    return path


def write_mnist(folder, n_train=5, n_test=3, gz=True, seed=0, splits=("train", "t10k")):
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, (n, 4, 4), dtype=np.uint8)
        y = rng.integers(0, 10, n, dtype=np.uint8)
        arrays[split] = (x, y)
        if split in splits:
            write(folder / f"{split}-images-idx3-ubyte", idx_bytes(x), gz)
            write(folder / f"{split}-labels-idx1-ubyte", idx_bytes(y), gz)
    return arrays


def cifar_records(x_hwc: np.ndarray, y: np.ndarray) -> bytes:
    chw = x_hwc.transpose(0, 3, 1, 2).reshape(len(x_hwc), -1)
    return np.concatenate([y[:, None].astype(np.uint8), chw], axis=1).tobytes()


def random_cifar(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


# ---------------------------------------------------------------------------------------------------------
# Real data (../shared/data)


@pytest.fixture(scope="module")
def mnist():
    return load("mnist", shared("mnist"), fallback=None)


def test_mnist_shared(mnist):
    assert mnist.name == "mnist" and not mnist.is_fallback
    assert mnist.x_train.shape == (60000, 28, 28, 1) and mnist.x_test.shape == (10000, 28, 28, 1)
    assert mnist.x_train.dtype == np.float32 and mnist.y_train.dtype == np.int64
    assert 0.0 <= mnist.x_train.min() and mnist.x_train.max() == 1.0
    assert mnist.x_train.mean() == pytest.approx(0.1307, abs=1e-4)  # the well-known normalization constant
    assert np.bincount(mnist.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(mnist.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert mnist.y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert "train-images-idx3-ubyte.gz" in mnist.source and str(SHARED / "mnist") in mnist.source
    assert mnist.subset == "train 60000 of 60000, test 10000 of 10000"
    assert mnist.record()["requested"] == "mnist"


def test_cifar_shared():
    ds = load("cifar10", shared("cifar10"), fallback=None)
    assert ds.x_train.shape == (4000, 32, 32, 3) and ds.x_test.shape == (1000, 32, 32, 3)
    assert np.bincount(ds.y_train).tolist() == [396, 366, 420, 384, 422, 393, 414, 385, 407, 413]
    assert np.bincount(ds.y_test).tolist() == [103, 89, 100, 103, 90, 86, 112, 102, 106, 109]
    # Known pixels (README): row 0 of image 0 starts (59,62,63), (43,46,45), (50,48,43) -> channels last.
    row0 = np.rint(ds.x_train[0, 0, :3] * 255)
    np.testing.assert_array_equal(row0, [[59, 62, 63], [43, 46, 45], [50, 48, 43]])
    np.testing.assert_array_equal(np.rint(ds.x_test[0, 0, :1] * 255), [[158, 112, 49]])
    np.testing.assert_allclose(ds.x_train.mean(axis=(0, 1, 2)), [0.4916, 0.4818, 0.4447], atol=1e-4)
    assert "data_batch_1.bin: 4000" in ds.source and "test_batch.bin: 1000" in ds.source
    assert "binary layout" in ds.source and "train 4000 of 4000, test 1000 of 1000" in ds.subset


def test_fashion_mnist_shared_has_only_test_split():
    root = shared("fashion-mnist")
    with pytest.raises(DataError, match="incomplete.*train-images-idx3-ubyte.*dataset-fashion-mnist"):
        load("fashion-mnist", root, fallback=None)
    with pytest.raises(DataError, match="incomplete.*train-images-idx3-ubyte"):  # a named dir: never a fallback
        load("fashion-mnist", root)
    # The test set alone can still be read with the lower-level reader.
    folder = root / "fashion-mnist"
    x, y = read_idx_pair(folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz")
    assert x.shape == (10000, 28, 28) and np.bincount(y).tolist() == [1000] * 10


def test_shared_data_dir_location():
    expected = Path(data.__file__).resolve().parents[1].parent / "shared" / "data"
    assert SHARED == (expected if expected.is_dir() else None)


# ---------------------------------------------------------------------------------------------------------
# IDX


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(st.sampled_from(["u1", "i1", ">i2", ">i4", ">f4", ">f8"]),
                  hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5)))
def test_idx_round_trip_raw_and_gz(tmp_path_factory, a):
    folder = tmp_path_factory.mktemp("idx")
    raw = write(folder / "a-idx-ubyte", idx_bytes(a))
    gz = write(folder / "a-idx-ubyte", idx_bytes(a), gz=True)
    for path in (raw, gz):
        got = read_idx(path)
        assert got.shape == a.shape
        np.testing.assert_array_equal(got, a)


def test_mnist_raw_and_gz_load_the_same(tmp_path):
    arrays = write_mnist(tmp_path / "raw" / "mnist", gz=False)
    write_mnist(tmp_path / "gz" / "mnist", gz=True)
    a, b = load("mnist", tmp_path / "raw", fallback=None), load("mnist", tmp_path / "gz", fallback=None)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.x_train.shape == (5, 4, 4, 1)
    np.testing.assert_array_equal(a.x_train[..., 0] * 255, arrays["train"][0])
    np.testing.assert_array_equal(a.y_test, arrays["t10k"][1])
    assert ".gz" not in a.source and "t10k-labels-idx1-ubyte.gz" in b.source


def test_limits_are_recorded(tmp_path):
    write_mnist(tmp_path, n_train=7, n_test=4)
    ds = load("mnist", tmp_path, limit_train=3, limit_test=10)
    assert len(ds.x_train) == 3 and len(ds.x_test) == 4
    assert ds.subset == "train first 3 of 7, test 4 of 4 (limit 10)"
    with pytest.raises(ValueError, match="limit_train"):
        load("mnist", tmp_path, limit_train=-1)


def _idx_error(tmp_path, content: bytes, match: str, gz=False):
    path = write(tmp_path / "train-images-idx3-ubyte", content, gz)
    with pytest.raises(DataError, match=match) as e:
        read_idx(path)
    assert path.name in str(e.value)


def test_idx_header_errors(tmp_path):
    good = idx_bytes(np.zeros((2, 3, 3), np.uint8))
    _idx_error(tmp_path, b"\x00\x00\x08", "bad magic")
    _idx_error(tmp_path, b"\x01\x02\x08\x03" + good[4:], "bad magic number 01020803")
    _idx_error(tmp_path, b"\x00\x00\x07\x03" + good[4:], "bad magic")  # unknown type code
    _idx_error(tmp_path, good[:10], "truncated IDX header")
    _idx_error(tmp_path, good[:-1], r"truncated: the header says 2x3x3 uint8, i\.e\. 34 bytes, .* holds 33")
    _idx_error(tmp_path, good + b"\x00", "trailing bytes")
    _idx_error(tmp_path, good[:-1], "truncated", gz=True)


def test_gzip_errors_name_the_file(tmp_path):
    good = gzip.compress(idx_bytes(np.zeros((2, 3, 3), np.uint8)), mtime=0)
    bad_crc = good[:-8] + bytes([good[-8] ^ 0xFF]) + good[-7:]
    _idx_error(tmp_path, bad_crc, "corrupt gzip file.*CRC")
    _idx_error(tmp_path, good[:-12], "corrupt gzip file")  # truncated
    _idx_error(tmp_path, good[:12] + b"\xff" * 20, "corrupt gzip file")  # garbage deflate stream


def test_idx_pair_errors(tmp_path):
    x = write(tmp_path / "x", idx_bytes(np.zeros((3, 2, 2), np.uint8)))
    y2 = write(tmp_path / "y2", idx_bytes(np.zeros(2, np.uint8)))
    with pytest.raises(DataError, match=r"y2 holds 2 labels but .*x holds 3 images"):
        read_idx_pair(x, y2)
    with pytest.raises(DataError, match=r"y2: expected an image file"):
        read_idx_pair(y2, x)
    y_bad = write(tmp_path / "ybad", idx_bytes(np.array([1, 12, 3], np.uint8)))
    with pytest.raises(DataError, match="ybad: label 12 is out of range"):
        read_idx_pair(x, y_bad)
    y_i4 = write(tmp_path / "yi4", idx_bytes(np.zeros(3, ">i4")))
    with pytest.raises(DataError, match="yi4: expected a label file"):
        read_idx_pair(x, y_i4)


def test_corrupt_file_is_an_error_not_a_fallback(tmp_path):
    write_mnist(tmp_path / "mnist", gz=False)
    path = tmp_path / "mnist" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte: truncated"):
        load("mnist", tmp_path)  # fallback allowed, but a damaged file must be fixed, not skipped


# ---------------------------------------------------------------------------------------------------------
# CIFAR-10


def test_cifar_binary_chw_to_hwc(tmp_path):
    r, g = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")  # red = row, green = column
    planes = np.stack([r, g + 100, np.full_like(r, 255)]).astype(np.uint8)  # (3, 32, 32) CHW
    path = write(tmp_path / "data_batch_1.bin", bytes([7]) + planes.tobytes())
    x, y = read_cifar_bin(path)
    assert x.shape == (1, 32, 32, 3) and y.tolist() == [7]
    assert x[0, 5, 9].tolist() == [5, 109, 255] and x[0, 31, 0].tolist() == [31, 100, 255]


def test_cifar_binary_subset_of_batches(tmp_path):
    batches = {"data_batch_2.bin": random_cifar(3, 1), "data_batch_5.bin": random_cifar(2, 2),
               "test_batch.bin": random_cifar(4, 3)}
    for name, (x, y) in batches.items():
        write(tmp_path / "cifar-10-batches-bin" / name, cifar_records(x, y))
    ds = load("cifar10", tmp_path, fallback=None)
    expect_x = np.concatenate([batches["data_batch_2.bin"][0], batches["data_batch_5.bin"][0]])
    np.testing.assert_array_equal(np.rint(ds.x_train * 255), expect_x)
    np.testing.assert_array_equal(ds.y_test, batches["test_batch.bin"][1])
    assert "data_batch_2.bin: 3, data_batch_5.bin: 2, test_batch.bin: 4" in ds.source
    assert "cifar-10-batches-bin" in ds.source and "data_batch_2.bin, data_batch_5.bin of" in ds.subset


def test_cifar_binary_errors(tmp_path):
    x, y = random_cifar(2, 0)
    good = cifar_records(x, y)
    for content, match in ((good[:-1], "not a whole number of CIFAR-10 records"), (b"", "not a whole number"),
                           (bytes([10]) + good[1:], "label 10 is out of range")):
        path = write(tmp_path / "test_batch.bin", content)
        with pytest.raises(DataError, match=match) as e:
            read_cifar_bin(path)
        assert "test_batch.bin" in str(e.value)


def test_cifar_incomplete_copy(tmp_path):
    write(tmp_path / "cifar10" / "data_batch_1.bin", cifar_records(*random_cifar(1, 0)))
    with pytest.raises(DataError, match="incomplete: test_batch.bin missing"):
        load("cifar10", tmp_path, fallback=None)


def _py2_pickle(d: np.ndarray, labels) -> bytes:
    """What the official cifar-10-batches-py files look like: a Python 2 protocol-2 pickle with str keys."""
    def s(b):
        return b"U" + bytes([len(b)]) + b if len(b) < 256 else b"T" + struct.pack("<i", len(b)) + b

    def i4(v):
        return b"J" + struct.pack("<i", v)

    dtype = b"cnumpy\ndtype\n" + s(b"u1") + i4(0) + i4(1) + b"\x87R(" + i4(3) + s(b"|") + b"NNN" + i4(-1) * 2
    arr = (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + i4(0) + b"\x85" + s(b"b") + b"\x87R("
           + i4(1) + i4(d.shape[0]) + i4(d.shape[1]) + b"\x86" + dtype + i4(0) + b"tb"
           + b"\x89" + s(d.tobytes()) + b"tb")
    return (b"\x80\x02}(" + s(b"batch_label") + s(b"training batch 1 of 5") + s(b"data") + arr + s(b"labels")
            + b"](" + b"".join(i4(v) for v in labels) + b"eu.")


@pytest.mark.parametrize("style", ["py2", "protocol2", "protocol5", "str-keys"])
def test_cifar_python_layout_round_trip(tmp_path, style):
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    batches = {"data_batch_1": random_cifar(3, 1), "test_batch": random_cifar(2, 2)}
    for name, (x, y) in batches.items():
        rows = np.ascontiguousarray(x.transpose(0, 3, 1, 2).reshape(len(x), 3072))
        if style == "py2":
            content = _py2_pickle(rows, y.tolist())
        else:
            d = {b"data": rows, b"labels": y.tolist()}
            if style == "str-keys":
                d = {k.decode(): v for k, v in d.items()}
            content = pickle.dumps(d, protocol=2 if style == "protocol2" else 5)
        write(folder / name, content)
    ds = load("cifar10", tmp_path, fallback=None)
    np.testing.assert_array_equal(np.rint(ds.x_train * 255), batches["data_batch_1"][0])
    np.testing.assert_array_equal(ds.y_train, batches["data_batch_1"][1])
    np.testing.assert_array_equal(np.rint(ds.x_test * 255), batches["test_batch"][0])
    assert ds.source.startswith(f"cifar10: python layout in {folder} (data_batch_1: 3, test_batch: 2 images)")


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    cases = {
        "posix.system": pickle.dumps({b"data": _Evil(marker), b"labels": [0]}),
        "os.system": f"cos\nsystem\n(S'touch {marker}'\ntR.".encode(),  # protocol 0, as hand-written exploits
        "builtins.eval": b"cbuiltins\neval\n(S'1+1'\ntR.",
        "numpy.load": b"cnumpy\nload\n(S'x.npy'\ntR.",  # numpy, but not a reconstruction global
    }
    folder = tmp_path / "cifar-10-batches-py"
    for name, content in cases.items():
        path = write(folder / "data_batch_1", content)
        with pytest.raises(DataError, match=rf"data_batch_1: cannot be loaded .*refused .* global {name}"):
            safe_unpickle(path)
        write(folder / "test_batch", content)
        with pytest.raises(DataError, match="refused"):
            load("cifar10", tmp_path)
    assert not marker.exists()


def test_pickle_that_is_not_a_cifar_batch(tmp_path):
    for obj in ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, [1, 2],
                {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, {b"labels": "x"}):
        path = write(tmp_path / "test_batch", pickle.dumps(obj))
        with pytest.raises(DataError, match="test_batch: not a CIFAR-10 python batch"):
            read_cifar_py(path)
    batch = {b"data": np.zeros((1, 3072), np.uint8), b"labels": [300]}
    path = write(tmp_path / "test_batch", pickle.dumps(batch))
    with pytest.raises(DataError, match="label 300 is out of range"):
        read_cifar_py(path)
    path = write(tmp_path / "test_batch", pickle.dumps({b"data": 1})[:-3])
    with pytest.raises(DataError, match="test_batch: cannot be loaded as a data pickle"):
        read_cifar_py(path)


# ---------------------------------------------------------------------------------------------------------
# Resolution and fallback


def test_digits():
    ds = load("digits")
    assert ds.x_train.shape == (1437, 8, 8, 1) and ds.x_test.shape == (360, 8, 8, 1)
    assert ds.x_train.dtype == np.float32 and ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    assert set(np.unique(ds.y_train)) == set(range(10)) and not ds.is_fallback
    assert "scikit-learn" in ds.source and "load_digits" in ds.source


def test_fallback_without_data_dir():
    ds = load("mnist")
    assert ds.name == "digits" and ds.requested == "mnist" and ds.is_fallback
    assert ds.source.startswith("FALLBACK to digits: mnist was requested but not found (no data directory")
    assert ds.record() == dict(dataset="digits", requested="mnist", source=ds.source, subset=ds.subset)
    with pytest.raises(DataError, match="cifar10 not found: no data directory given.*--data-dir.*HARNESS_"):
        load("cifar10", fallback=None)


def test_fallback_label_says_fallback_and_what_was_asked_for():
    ds = load("mnist")
    assert ds.label().startswith("FALLBACK digits instead of mnist: train 1437 of 1437")
    assert load("digits").label().startswith("digits: ")


def test_a_named_data_dir_without_the_data_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    """Issue 11 defect 2: an explicit data directory (flag or environment) never falls back silently."""
    with pytest.raises(DataError, match=f"cifar10 not found: no cifar10 batches .* in {tmp_path}"):
        load("cifar10", tmp_path)
    with pytest.raises(DataError, match=f"mnist not found: no mnist IDX files .* in {tmp_path}/mnist"):
        load("mnist", tmp_path)
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    with pytest.raises(DataError, match="mnist not found"):
        load("mnist")
    # One IDX file replaced by a directory: incomplete, and the message names the missing file.
    write_mnist(tmp_path / "mnist", seed=0, gz=False)
    target = tmp_path / "mnist" / "train-labels-idx1-ubyte"
    target.unlink()
    target.mkdir()
    with pytest.raises(DataError, match="incomplete: train-labels-idx1-ubyte\\[.gz\\] missing"):
        load("mnist", tmp_path)


def test_fingerprint_follows_the_files_and_names_the_fallback(tmp_path, monkeypatch):
    from harness.data import fingerprint

    monkeypatch.delenv(ENV_VAR, raising=False)
    assert fingerprint("generated:symmetry-64") == "generated:symmetry-64"
    assert fingerprint("mnist").startswith("FALLBACK digits instead of mnist")
    write_mnist(tmp_path / "mnist", seed=0)
    first = fingerprint("mnist", tmp_path)
    assert first.startswith("mnist: 4 files") and first == fingerprint("mnist", tmp_path)
    write_mnist(tmp_path / "mnist", seed=1, n_train=7)  # other data: another fingerprint
    assert fingerprint("mnist", tmp_path) != first
    with pytest.raises(DataError, match="cifar10 not found"):
        fingerprint("cifar10", tmp_path)


def test_missing_data_dir(tmp_path, monkeypatch):
    missing = tmp_path / "nope"
    with pytest.raises(DataError, match=f"data directory '{missing}' does not exist; pass --data-dir or set "):
        load("mnist", missing)
    with pytest.raises(DataError, match="is a file, not a directory"):  # issue 11 defect 10
        load("cifar10", write(tmp_path / "file", b""))
    monkeypatch.setenv(ENV_VAR, str(missing))
    with pytest.raises(DataError, match=rf"{missing}' \(from \$HARNESS_DATA_DIR\) does not exist"):
        load("mnist")


def test_env_var_and_precedence(tmp_path, monkeypatch):
    env_dir, arg_dir = tmp_path / "env", tmp_path / "arg"
    env_arrays = write_mnist(env_dir / "mnist", seed=1)
    arg_arrays = write_mnist(arg_dir, seed=2)  # files directly in the data dir
    assert resolve_data_dir() is None
    monkeypatch.setenv(ENV_VAR, str(env_dir))
    assert resolve_data_dir() == env_dir
    ds = load("mnist", fallback=None)
    np.testing.assert_array_equal(ds.y_train, env_arrays["train"][1])
    assert str(env_dir / "mnist") in ds.source
    ds = load("mnist", arg_dir, fallback=None)  # the explicit argument wins
    np.testing.assert_array_equal(ds.y_train, arg_arrays["train"][1])
    monkeypatch.setenv(ENV_VAR, "")
    assert resolve_data_dir() is None
    monkeypatch.setenv(ENV_VAR, "~/")  # issue 11 defect 11: `~` is expanded, and the path made absolute
    assert resolve_data_dir() == Path.home()


def test_torchvision_layout_and_dotted_names(tmp_path):
    arrays = write_mnist(tmp_path / "FashionMNIST" / "raw")
    ds = load("fashion-mnist", tmp_path, fallback=None)
    np.testing.assert_array_equal(ds.y_test, arrays["t10k"][1])
    folder = tmp_path / "kaggle"  # names as some mirrors ship them: train-images.idx3-ubyte
    for split, (x, y) in arrays.items():
        write(folder / f"{split}-images.idx3-ubyte", idx_bytes(x))
        write(folder / f"{split}-labels.idx1-ubyte", idx_bytes(y), gz=True)
    ds = load("mnist", folder, fallback=None)
    np.testing.assert_array_equal(ds.y_train, arrays["train"][1])
    assert "train-labels.idx1-ubyte.gz" in ds.source


def test_unknown_name():
    with pytest.raises(DataError, match="unknown dataset 'imagenet'"):
        load("imagenet")


# ---------------------------------------------------------------------------------------------------------
# Helpers


def test_train_val_split():
    x, y = np.arange(20).reshape(10, 2), np.arange(10)
    xt, yt, xv, yv = train_val_split(x, y, 3, seed=0)
    assert len(yv) == 3 and len(yt) == 7 and sorted(np.concatenate([yt, yv]).tolist()) == list(range(10))
    np.testing.assert_array_equal(xt[:, 0] // 2, yt)
    for got, again in zip((xt, yt, xv, yv), train_val_split(x, y, 3, seed=0), strict=True):
        np.testing.assert_array_equal(got, again)
    assert len({tuple(train_val_split(x, y, 3, seed=s)[3]) for s in range(5)}) > 1  # the seed matters
    assert np.all(np.diff(yt) > 0) and np.all(np.diff(yv) > 0)  # original order kept
    assert len(train_val_split(x, y, 0, seed=0)[3]) == 0
    with pytest.raises(ValueError):
        train_val_split(x, y, 11, seed=0)
    with pytest.raises(ValueError):
        train_val_split(x, y[:5], 1, seed=0)


def test_one_hot():
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    assert one_hot(np.array([1]), 4).dtype == np.float32
    assert one_hot(np.array([], np.int64), 4).shape == (0, 4)
    with pytest.raises(ValueError):
        one_hot(np.array([3]), 3)


def test_dataset_is_frozen():
    ds = load("digits", limit_train=2, limit_test=2)
    assert isinstance(ds, Dataset)
    with pytest.raises(AttributeError):
        ds.name = "x"


def test_resize_pools_down_and_enlarges_only_when_asked():
    from harness.data import resize

    x = np.arange(2 * 4 * 4 * 1, dtype=np.float32).reshape(2, 4, 4, 1)
    pooled = resize(x, 2)
    assert pooled.shape == (2, 2, 2, 1) and pooled[0, 0, 0, 0] == np.mean([0, 1, 4, 5])
    assert resize(x, 8) is x  # smaller images stay as they are by default
    big = resize(x, 8, enlarge=True)
    assert big.shape == (2, 8, 8, 1) and (big[:, ::2, ::2] == x).all() and (big[:, 1::2, 1::2] == x).all()
