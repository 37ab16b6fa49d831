"""CIFAR-10 and SVHN (cropped digits) from files the user puts in the data directory.

spikelocal never downloads these two sets (they are large and their hosts are not mirrors
the package relies on); a missing file stops the run with one line naming the folder, the
files to put there and where to get them. Both come back as MNIST does: uint8 images
``[N, 3, 32, 32]`` (channels R, G, B) and integer labels 0-9, so the encoders and networks
take them unchanged (a conv net gets 3 input channels, a dense net 3072 inputs).

Layout under the data directory (``data.root``, else ``$SPIKELOCAL_DATA``, else ./data):

- ``cifar-10-batches-bin/``: the binary version (``data_batch_1.bin`` .. ``data_batch_5.bin``,
  ``test_batch.bin``), or ``cifar-10-batches-py/``: the python version (``data_batch_1`` ..
  ``data_batch_5``, ``test_batch``). The binary version is used when both are present.
- ``svhn/``: ``train_32x32.mat`` and ``test_32x32.mat`` (format 2, MATLAB v5 files).
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from .idx import file_md5

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
SVHN_URL = "http://ufldl.stanford.edu/housenumbers/"
CIFAR_BIN, CIFAR_PY, SVHN_FOLDER = "cifar-10-batches-bin", "cifar-10-batches-py", "svhn"
CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]

# The python version's published md5s: pickle runs code named in the file, so a batch is
# unpickled only once its md5 matches (tests replace this table with their fake files' md5s).
CIFAR_PY_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
SVHN_MD5 = {
    "train_32x32.mat": "e26dedcc434d2e4c54c9b2d4a06d8373",
    "test_32x32.mat": "eb5a983be6a315427106f1b164d9cef3",
}
# The binary version is published as one archive without per-file md5s, so its files are
# checked by shape instead: every file holds this many records of 1 label byte + 3072 pixel
# bytes (tests shrink it to write small fake files).
CIFAR_RECORDS = 10_000
PIXELS = 3 * 32 * 32

CLASS_NAMES = {
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    "svhn": [str(i) for i in range(10)],
}

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def load_color_dataset(name: str, root: Path) -> Arrays:
    """(train_x [N,3,32,32] uint8, train_y, test_x, test_y) of ``cifar10`` or ``svhn``."""
    return load_cifar10(root) if name == "cifar10" else load_svhn(root)


# ------------------------------------------------------------------ CIFAR-10 -------
def load_cifar10(root: Path) -> Arrays:
    """CIFAR-10 from the binary version if its folder exists, else from the python version."""
    binary, python = root / CIFAR_BIN, root / CIFAR_PY
    if binary.is_dir() or not python.is_dir():
        _require(binary, [f"{b}.bin" for b in CIFAR_BATCHES], "cifar10", "CIFAR-10 binary version",
                 CIFAR_URL, alternative=f" (or the python version's files in {python}/)")
        parts = [_read_cifar_bin(binary / f"{b}.bin") for b in CIFAR_BATCHES]
    else:
        _require(python, CIFAR_BATCHES, "cifar10", "CIFAR-10 python version", CIFAR_URL)
        parts = [_read_cifar_py(python / b) for b in CIFAR_BATCHES]
    train_x = np.concatenate([x for x, _ in parts[:-1]])
    train_y = np.concatenate([y for _, y in parts[:-1]])
    return train_x, train_y, parts[-1][0], parts[-1][1]


def _read_cifar_bin(path: Path) -> tuple[np.ndarray, np.ndarray]:
    expected = CIFAR_RECORDS * (1 + PIXELS)
    size = path.stat().st_size
    if size != expected:
        raise DataError(f"{path}: {size} bytes, expected {expected} ({CIFAR_RECORDS} records of 1 label "
                        f"byte + {PIXELS} pixel bytes); the file is truncated or not CIFAR-10's binary version")
    records = np.fromfile(path, dtype=np.uint8).reshape(CIFAR_RECORDS, 1 + PIXELS)
    labels = records[:, 0].astype(np.int64)
    _check_labels(path, labels)
    return np.ascontiguousarray(records[:, 1:]).reshape(-1, 3, 32, 32), labels


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles a CIFAR batch (a dict of lists, strings and one numpy array) and refuses
    any other global, so even a file that passed its md5 check cannot name other code."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"), ("numpy", "dtype"),
               ("numpy.core.numeric", "_frombuffer"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str) -> Any:
        if (module.replace("numpy._core", "numpy.core"), name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not part of a CIFAR batch")
        if module.startswith("numpy.core.") and int(np.__version__.split(".")[0]) >= 2:
            module = "numpy._core." + module[len("numpy.core."):]  # numpy 2 moved it; skip the shim
        return super().find_class(module, name)


def _verify_md5(path: Path, published: str, what: str) -> None:
    """A file is read only when it is the published one (pickles above all)."""
    actual = file_md5(path)
    if actual != published:
        raise DataError(f"{path}: md5 {actual} differs from the published {published}; the file is corrupt "
                        f"or not {what}")


def _read_cifar_py(path: Path) -> tuple[np.ndarray, np.ndarray]:
    _verify_md5(path, CIFAR_PY_MD5[path.name], "CIFAR-10's python version (it is not unpickled)")
    try:
        with open(path, "rb") as fh:
            batch = _ArrayUnpickler(fh, encoding="latin1").load()
        data = np.asarray(batch.get("data", batch.get(b"data")))
        labels = np.asarray(batch.get("labels", batch.get(b"labels")), dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: not a CIFAR-10 batch (a pickled dict with 'data' and 'labels'): {exc}") from None
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS or labels.shape != (len(data),):
        raise DataError(f"{path}: 'data' is {data.dtype} {list(data.shape)} with {labels.size} labels, "
                        f"expected uint8 [N, {PIXELS}] and N labels")
    _check_labels(path, labels)
    return np.ascontiguousarray(data).reshape(-1, 3, 32, 32), labels


# ----------------------------------------------------------------------- SVHN -------
def load_svhn(root: Path) -> Arrays:
    """SVHN's cropped digits (format 2); label 10 (the digit 0) becomes 0."""
    folder = root / SVHN_FOLDER
    _require(folder, list(SVHN_MD5), "svhn", "SVHN cropped digits (format 2)", SVHN_URL)
    train_x, train_y = _read_svhn(folder / "train_32x32.mat")
    test_x, test_y = _read_svhn(folder / "test_32x32.mat")
    return train_x, train_y, test_x, test_y


def _read_svhn(path: Path) -> tuple[np.ndarray, np.ndarray]:
    _verify_md5(path, SVHN_MD5[path.name], "SVHN's cropped digits")
    try:
        from scipy.io import loadmat
    except ImportError:
        raise DataError(f"{path}: reading SVHN's .mat files needs scipy (pip install scipy)") from None
    try:
        mat = loadmat(path, variable_names=["X", "y"])
        x, y = np.asarray(mat["X"]), np.asarray(mat["y"]).astype(np.int64).reshape(-1)
    except (KeyError, ValueError, TypeError, OSError, NotImplementedError) as exc:
        raise DataError(f"{path}: not a MATLAB v5 file holding X and y ({exc})") from None
    if x.dtype != np.uint8 or x.shape[:3] != (32, 32, 3) or x.ndim != 4 or len(y) != x.shape[3]:
        raise DataError(f"{path}: X is {x.dtype} {list(x.shape)} with {len(y)} labels, "
                        "expected uint8 [32, 32, 3, N] and N labels")
    if y.size and (y.min() < 1 or y.max() > 10):
        raise DataError(f"{path}: labels span {y.min()}..{y.max()}, expected 1..10 (10 is the digit 0)")
    return np.ascontiguousarray(x.transpose(3, 2, 0, 1)), y % 10


# --------------------------------------------------------------------- shared -------
def _require(folder: Path, files: list[str], name: str, what: str, url: str, alternative: str = "") -> None:
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise DataError(f"{name}: missing {', '.join(missing)} in {folder}{alternative}; put the {what} "
                        f"files there (from {url}; spikelocal never downloads them), or point data.root / "
                        f"$SPIKELOCAL_DATA at the folder holding {folder.name}/")


def _check_labels(path: Path, labels: np.ndarray) -> None:
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        bad = int(labels.min() if labels.min() < 0 else labels.max())
        raise DataError(f"{path}: label {bad} found, expected 0..9; not a CIFAR-10 file")
