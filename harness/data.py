"""Image data, framework-free (NumPy only): MNIST / Fashion-MNIST IDX, CIFAR-10 binary and python layouts,
and scikit-learn's bundled digits as the offline default. Nothing is ever downloaded.

    ds = load("mnist", data_dir)      # -> Dataset(name, x_train, y_train, x_test, y_test, source, subset)

Images are NHWC float32 in [0, 1] (uint8 / 255, digits / 16), labels int64. `source` and `subset` say which
files and how many images were used; they are recorded with every result.

Where the data is looked for: `data_dir` (the CLI's --data-dir) > $HARNESS_DATA_DIR > none. Inside it:
  mnist          mnist/, MNIST/raw/ (torchvision), or the IDX files directly in the data dir
  fashion-mnist  fashion-mnist/, FashionMNIST/raw/, or the IDX files directly in the data dir
  cifar10        cifar10/, cifar10/cifar-10-batches-{bin,py}/, cifar-10-batches-{bin,py}/, or the data dir
IDX files may be raw or gzipped (`train-images-idx3-ubyte[.gz]`, ...). CIFAR-10 takes whichever of
data_batch_1..5 are present (at least one) plus test_batch.

A dataset counts as found only with both its train and test split. Without any data directory, `load`
returns the digits fallback with `source` saying so and why (its `label()` starts with "FALLBACK"), or
raises DataError when `fallback=None`. A data directory that was named (argument or environment) but does
not hold the dataset, or holds an incomplete copy such as a Fashion-MNIST with only the t10k files, is
always a DataError listing what is missing: the user asked for that data, so nothing stands in for it.
A file that is present but corrupt always raises DataError (naming the file, what is wrong, and what to
do); it is never skipped. `fingerprint` identifies the data a load would read, without reading it.
"""

from __future__ import annotations

import _codecs
import dataclasses
import gzip
import hashlib
import io
import math
import os
import pickle
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy._core.multiarray import _reconstruct, scalar
from numpy._core.numeric import _frombuffer

from harness.errors import DataError

ENV_VAR = "HARNESS_DATA_DIR"
NAMES = ("mnist", "fashion-mnist", "cifar10", "digits")
DIGITS_N_TRAIN = 1437  # digits has no official split: the first 1437 of 1797 train, the last 360 test (80/20)
_FIX = "replace it with an intact copy"
_NO_DIR = "pass --data-dir or set HARNESS_DATA_DIR"
_NAMED_DIR_FIX = ("add the files, or name the directory that holds them (with no data directory at all, the "
                  "bundled digits stand in, and the output says so)")


@dataclass(frozen=True)
class Dataset:
    name: str  # what was loaded: "mnist", "fashion-mnist", "cifar10", "digits"
    x_train: np.ndarray  # (N, H, W, C) float32 in [0, 1]
    y_train: np.ndarray  # (N,) int64
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # which files (or package), from where; starts with "FALLBACK" when it is a fallback
    subset: str  # how many images of each split were used
    requested: str = ""  # what was asked for; differs from `name` for a fallback

    @property
    def is_fallback(self) -> bool:
        return bool(self.requested) and self.requested != self.name

    def label(self) -> str:
        """One line for a result's "dataset": what was loaded, how much, and from where. A fallback's label
        starts with "FALLBACK", so a table or a comparison can tell it from the data that was asked for."""
        if self.is_fallback:
            return f"FALLBACK {self.name} instead of {self.requested}: {self.subset} ({self.source})"
        return f"{self.name}: {self.subset} ({self.source})"

    def record(self) -> dict[str, str]:
        """What a result records about its data."""
        return {"dataset": self.name, "requested": self.requested or self.name,
                "source": self.source, "subset": self.subset}


def shared_data_dir() -> Path | None:
    """`../shared/data` next to the repository root (what tests and CI use), or None when absent."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return path if path.is_dir() else None


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """Explicit argument > $HARNESS_DATA_DIR > None. A named directory that does not exist is an error."""
    if data_dir is not None and str(data_dir) != "":
        path, origin = Path(data_dir).expanduser(), ""
    elif os.environ.get(ENV_VAR, "").strip():
        path, origin = Path(os.environ[ENV_VAR]).expanduser(), f" (from ${ENV_VAR})"
    else:
        return None
    if not path.is_dir():
        what = ("is a file, not a directory" if path.is_file() else "is not a directory" if path.exists()
                else "does not exist")
        raise DataError(f"data directory '{path}'{origin} {what}; {_NO_DIR} naming the directory that holds "
                        "mnist/ and cifar10/")
    return path.absolute()


class _NotFound(Exception):
    """The requested data is absent (not corrupt): the reason goes into the fallback's `source`."""


# ---------------------------------------------------------------------------------------------------------
# Files


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when its content is gzip (whatever its name)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile (also CRC) is an OSError; EOFError: truncated
        raise DataError(f"{path}: corrupt gzip file ({e}); damaged or truncated copy: {_FIX}") from None


_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An IDX file (raw or .gz) as an array, its header checked against the file's length."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise DataError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'none'}; expected "
                        f"00 00, a type code and a dimension count, e.g. 00000803 for images): {_FIX}")
    ndim, header = raw[3], 4 + 4 * raw[3]
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header ({len(raw)} bytes, {ndim} dims need {header}): {_FIX}")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = header + math.prod(dims) * dtype.itemsize
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "has trailing bytes"
        raise DataError(f"{path}: {what}: the header says {'x'.join(map(str, dims))} {dtype.name}, i.e. "
                        f"{expected} bytes, but the file holds {len(raw)} (decompressed): {_FIX}")
    return np.frombuffer(raw, dtype, offset=header).reshape(dims)


def read_idx_pair(images: str | os.PathLike, labels: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """An MNIST-style (images, labels) pair: uint8 (N, H, W) and uint8 (N,) with labels 0..9, same N."""
    x, y = read_idx(images), read_idx(labels)
    if x.dtype != np.uint8 or x.ndim != 3:
        raise DataError(f"{images}: expected an image file (uint8, 3 dims, magic 00000803), got "
                        f"{x.dtype.name} with shape {x.shape}; is it the right file?")
    if y.dtype != np.uint8 or y.ndim != 1:
        raise DataError(f"{labels}: expected a label file (uint8, 1 dim, magic 00000801), got "
                        f"{y.dtype.name} with shape {y.shape}; is it the right file?")
    if len(x) != len(y):
        raise DataError(f"{labels} holds {len(y)} labels but {images} holds {len(x)} images: "
                        f"the two files do not belong together; {_FIX}")
    if len(y) and y.max() > 9:
        raise DataError(f"{labels}: label {y.max()} is out of range 0..9: {_FIX}")
    return x, y


_CIFAR_RECORD = 1 + 3 * 32 * 32


def read_cifar_bin(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """A CIFAR-10 binary batch: records of 1 label byte + 3072 pixel bytes (R, G, B planes, each 32x32
    row-major) -> uint8 images (N, 32, 32, 3) HWC and uint8 labels (N,)."""
    path = Path(path)
    raw = _read_bytes(path)
    if not raw or len(raw) % _CIFAR_RECORD:
        raise DataError(f"{path}: {len(raw)} bytes is not a whole number of CIFAR-10 records "
                        f"({_CIFAR_RECORD} bytes each); truncated, or not a CIFAR-10 batch: {_FIX}")
    records = np.frombuffer(raw, np.uint8).reshape(-1, _CIFAR_RECORD)
    return _cifar_hwc(path, records[:, 1:], records[:, 0])


def _cifar_hwc(path: Path, pixels: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of 3072 bytes (R, G, B planes) -> (N, 32, 32, 3); labels checked to lie in 0..9."""
    bad = labels[(labels < 0) | (labels > 9)]
    if bad.size:
        raise DataError(f"{path}: label {bad[0]} is out of range 0..9 (a CIFAR-100 file?): {_FIX}")
    return pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.astype(np.uint8)


# The only globals a pickled CIFAR batch needs: numpy's array/scalar reconstruction (old and new module
# paths; _frombuffer for protocol 5) and _codecs.encode (bytes in protocol-2 pickles written by Python 3).
_PICKLE_ALLOWED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _codecs.encode,
    **{(f"numpy.{core}.multiarray", "_reconstruct"): _reconstruct for core in ("core", "_core")},
    **{(f"numpy.{core}.multiarray", "scalar"): scalar for core in ("core", "_core")},
    **{(f"numpy.{core}.numeric", "_frombuffer"): _frombuffer for core in ("core", "_core")},
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _PICKLE_ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused to load global {module}.{name}") from None


def safe_unpickle(path: str | os.PathLike):
    """Unpickle a data file allowing no globals beyond numpy array reconstruction (no code execution)."""
    path = Path(path)
    raw = _read_bytes(path)
    try:
        return _SafeUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as e:  # a damaged pickle can raise nearly anything; never let it out raw
        raise DataError(f"{path}: cannot be loaded as a data pickle ({type(e).__name__}: {e}); only numpy "
                        f"arrays, lists and dicts are accepted: {_FIX}") from None


def read_cifar_py(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """A CIFAR-10 python batch (a pickled dict: b'data' (N, 3072) uint8, b'labels') -> as read_cifar_bin."""
    path = Path(path)
    obj = safe_unpickle(path)
    if isinstance(obj, dict):
        obj = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}
    data, labels = (obj.get("data"), obj.get("labels")) if isinstance(obj, dict) else (None, None)
    try:
        labels = np.asarray(labels, dtype=np.int64)
        ok = (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
              and data.shape[1] == 3072 and labels.shape == (len(data),))
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise DataError(f"{path}: not a CIFAR-10 python batch (expected a dict with b'data', a uint8 array "
                        f"(N, 3072), and b'labels', N ints 0..9): {_FIX}")
    return _cifar_hwc(path, data, labels)


# ---------------------------------------------------------------------------------------------------------
# Finding the files


_IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_SUBDIRS = {"mnist": ("mnist", "MNIST/raw", "."), "fashion-mnist": ("fashion-mnist", "FashionMNIST/raw", "."),
            "cifar10": ("cifar10", "cifar10/cifar-10-batches-bin", "cifar10/cifar-10-batches-py",
                        "cifar-10-batches-bin", "cifar-10-batches-py", ".")}


def _idx_file(folder: Path, stem: str) -> Path | None:
    """`stem`, `stem.gz`, or the common variant with a dot (`train-images.idx3-ubyte`)."""
    for base in (stem, stem.replace("-idx", ".idx")):
        for name in (base, base + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def _find_mnist(root: Path, name: str) -> dict[str, tuple[Path, Path]]:
    folders = [root / sub for sub in _SUBDIRS[name]]
    for folder in folders:
        files = {split: tuple(_idx_file(folder, s) for s in stems) for split, stems in _IDX_FILES.items()}
        if not any(p for pair in files.values() for p in pair):
            continue
        missing = [stem + "[.gz]" for split, stems in _IDX_FILES.items()
                   for stem, p in zip(stems, files[split], strict=True) if p is None]
        if missing:
            hint = (" (the full set: `apt-get install -y dataset-fashion-mnist` puts it in "
                    "/usr/share/datasets/fashion-mnist)") if name == "fashion-mnist" else ""
            raise _NotFound(f"{name} in {folder} is incomplete: {', '.join(missing)} missing{hint}")
        return files
    raise _NotFound(f"no {name} IDX files (train-images-idx3-ubyte[.gz], ...) in " + _or(folders))


def _find_cifar(root: Path) -> tuple[str, list[Path], Path]:
    folders = [root / sub for sub in _SUBDIRS["cifar10"]]
    for folder in folders:
        for layout, ext in (("binary", ".bin"), ("python", "")):
            train = [p for i in range(1, 6) if (p := folder / f"data_batch_{i}{ext}").is_file()]
            test = folder / ("test_batch" + ext)
            if not train and not test.is_file():
                continue
            if not train or not test.is_file():
                missing = "test_batch" + ext if train else f"data_batch_1..5{ext} (at least one)"
                raise _NotFound(f"cifar10 ({layout} layout) in {folder} is incomplete: {missing} missing")
            return layout, train, test
    raise _NotFound("no cifar10 batches (data_batch_N.bin / test_batch.bin, or the python layout's "
                    "data_batch_N / test_batch) in " + _or(folders))


def _or(folders: list[Path]) -> str:
    return ", ".join(str(f) for f in folders[:-1]) + " or " + str(folders[-1])


# ---------------------------------------------------------------------------------------------------------
# Loading


def _to_float(x: np.ndarray, scale: float) -> np.ndarray:
    out = x.astype(np.float32)
    out /= scale
    return out if out.ndim == 4 else out[..., None]  # grayscale (N, H, W) -> NHWC (N, H, W, 1)


def _limit(n: int, limit: int | None, split: str) -> tuple[int, str]:
    if limit is None or limit >= n:
        return n, f"{split} {n} of {n}" + ("" if limit is None else f" (limit {limit})")
    if limit < 0:
        raise ValueError(f"limit_{split} must be >= 0, got {limit}")
    return limit, f"{split} first {limit} of {n}"


def _assemble(name, train, test, limit_train, limit_test, scale, source, detail="") -> Dataset:
    (xtr, ytr), (xte, yte) = train, test
    ntr, s_tr = _limit(len(xtr), limit_train, "train")
    nte, s_te = _limit(len(xte), limit_test, "test")
    return Dataset(name=name, x_train=_to_float(xtr[:ntr], scale), y_train=ytr[:ntr].astype(np.int64),
                   x_test=_to_float(xte[:nte], scale), y_test=yte[:nte].astype(np.int64),
                   source=source, subset=f"{s_tr}, {s_te}{detail}", requested=name)


def _load_mnist(root: Path, name: str, limit_train, limit_test) -> Dataset:
    files = _find_mnist(root, name)
    train, test = (read_idx_pair(*files[split]) for split in ("train", "test"))
    folder = files["train"][0].parent
    names = ", ".join(p.name for pair in files.values() for p in pair)
    source = f"{name}: IDX files in {folder} ({names})"
    return _assemble(name, train, test, limit_train, limit_test, 255.0, source)


def _load_cifar(root: Path, limit_train, limit_test) -> Dataset:
    layout, train_files, test_file = _find_cifar(root)
    read = read_cifar_bin if layout == "binary" else read_cifar_py
    parts = [read(p) for p in train_files]
    train = (np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts]))
    test = read(test_file)
    counts = [f"{p.name}: {len(x)}" for p, (x, _) in zip(train_files, parts, strict=True)]
    counts.append(f"{test_file.name}: {len(test[0])}")
    source = f"cifar10: {layout} layout in {test_file.parent} ({', '.join(counts)} images)"
    detail = f"; train batches used: {', '.join(p.name for p in train_files)} of data_batch_1..5"
    return _assemble("cifar10", train, test, limit_train, limit_test, 255.0, source, detail)


def load_digits(limit_train: int | None = None, limit_test: int | None = None) -> Dataset:
    """scikit-learn's bundled 8x8 digits (values 0..16): the first 1437 train, the last 360 test."""
    import sklearn
    from sklearn.datasets import load_digits as sk_load_digits

    d = sk_load_digits()
    x, y = d.images, d.target
    train, test = (x[:DIGITS_N_TRAIN], y[:DIGITS_N_TRAIN]), (x[DIGITS_N_TRAIN:], y[DIGITS_N_TRAIN:])
    source = f"digits: scikit-learn {sklearn.__version__} load_digits (bundled, {len(x)} 8x8 images, 0..16)"
    return _assemble("digits", train, test, limit_train, limit_test, 16.0, source,
                     f"; split: first {DIGITS_N_TRAIN} train, last {len(x) - DIGITS_N_TRAIN} test")


def load(name: str, data_dir: str | os.PathLike | None = None, *, fallback: str | None = "digits",
         limit_train: int | None = None, limit_test: int | None = None) -> Dataset:
    """Load `name` ("mnist", "fashion-mnist", "cifar10", "digits") from the resolved data directory.

    Not found and no data directory given -> the `fallback` dataset (only "digits"), with `source` starting
    "FALLBACK" and giving the reason; `fallback=None`, or a named data directory -> DataError instead.
    `limit_*` keep the first N images of a split.
    """
    if name not in NAMES:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(NAMES)}")
    if fallback not in (None, "digits"):
        raise ValueError(f"fallback must be 'digits' or None, got {fallback!r}")
    if name == "digits":
        return load_digits(limit_train, limit_test)
    root = resolve_data_dir(data_dir)
    try:
        if root is None:
            raise _NotFound(f"no data directory given ({_NO_DIR})")
        if name == "cifar10":
            return _load_cifar(root, limit_train, limit_test)
        return _load_mnist(root, name, limit_train, limit_test)
    except _NotFound as e:
        if root is not None:  # a named data directory without the data is the user's error, never a fallback
            raise DataError(f"{name} not found: {e}; {_NAMED_DIR_FIX}") from None
        if fallback is None:
            raise DataError(f"{name} not found: {e}") from None
        ds = load_digits(limit_train, limit_test)
        reason = f"FALLBACK to digits: {name} was requested but not found ({e}); {ds.source}"
        return dataclasses.replace(ds, requested=name, source=reason)


def fingerprint(name: str, data_dir: str | os.PathLike | None = None) -> str:
    """What identifies the data `load(name, data_dir)` would read, without reading it: the dataset, and a hash
    of its files' names, sizes and first 4 KiB (headers; a gzip header holds the original's mtime), or the
    bundled digits' scikit-learn version when it would fall back. A procedural dataset ("generated:...") is
    made by the code from its config and seed, so its name identifies it. Two runs with the same fingerprint
    read the same data; a named data directory without the data raises DataError (naming the missing files)."""
    import sklearn

    base = name.split(":")[0]
    if base not in NAMES:
        return name
    if base == "digits":
        return f"digits: scikit-learn {sklearn.__version__}"
    root = resolve_data_dir(data_dir)
    if root is None:
        return f"FALLBACK digits instead of {base}: scikit-learn {sklearn.__version__}"
    try:
        if base == "cifar10":
            _, train, test = _find_cifar(root)
            files = [*train, test]
        else:
            files = [p for pair in _find_mnist(root, base).values() for p in pair]
    except _NotFound as e:
        raise DataError(f"{base} not found: {e}; {_NAMED_DIR_FIX}") from None
    digest = hashlib.sha256()
    for path in files:
        try:
            with open(path, "rb") as f:
                head = f.read(4096)
            size = path.stat().st_size
        except OSError as e:
            raise DataError(f"cannot read {path}: {e.strerror or e}") from None
        digest.update(f"{path.name}\0{size}\0".encode() + head)
    return f"{base}: {len(files)} files, sha256 {digest.hexdigest()[:16]} of names, sizes and headers"


def resize(x: np.ndarray, size: int, enlarge: bool = False) -> np.ndarray:
    """NHWC images to `size` x `size` by an integer factor: average-pooled down; with `enlarge`, a smaller
    image (the 8x8 digits fallback) is enlarged by repeating pixels, else left as it is."""
    h = x.shape[1]
    if enlarge and h < size and size % h == 0:
        r = size // h
        return np.repeat(np.repeat(x, r, axis=1), r, axis=2)
    f = h // size if h > size else 1
    if f == 1:
        return x
    n, _, w, c = x.shape
    return x.reshape(n, h // f, f, w // f, f, c).mean(axis=(2, 4), dtype=np.float32)


def load_standardized(name: str, data_dir, limit_train: int, limit_test: int, image_size: int,
                      enlarge: bool = False) -> tuple[Dataset, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`load` (with its digits fallback), `resize`d, standardised per channel with the training set's mean
    and std. Returns (dataset, x_train, y_train, x_test, y_test)."""
    ds = load(name, data_dir, limit_train=limit_train, limit_test=limit_test)
    xtr, xte = resize(ds.x_train, image_size, enlarge), resize(ds.x_test, image_size, enlarge)
    mean, std = xtr.mean(axis=(0, 1, 2)), xtr.std(axis=(0, 1, 2))
    return ds, ((xtr - mean) / std).astype(np.float32), ds.y_train, ((xte - mean) / std).astype(np.float32), ds.y_test


def train_val_split(x: np.ndarray, y: np.ndarray, n_val: int, seed: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_val, y_val): `n_val` examples drawn at random by `seed`; both parts keep the
    original order. The same (len, n_val, seed) always gives the same split."""
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)}")
    if not 0 <= n_val <= len(x):
        raise ValueError(f"n_val must be in 0..{len(x)}, got {n_val}")
    is_val = np.zeros(len(x), bool)
    is_val[np.random.default_rng(seed).permutation(len(x))[:n_val]] = True
    return x[~is_val], y[~is_val], x[is_val], y[is_val]


def one_hot(y: np.ndarray, k: int, dtype=np.float32) -> np.ndarray:
    """Integer labels (N,) in 0..k-1 -> (N, k)."""
    y = np.asarray(y)
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"labels must lie in 0..{k - 1}, got {y.min()}..{y.max()}")
    return np.eye(k, dtype=dtype)[y.astype(np.int64)]
