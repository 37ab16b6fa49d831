"""MNIST and Fashion-MNIST from their gzipped idx files, checked against published md5s.

The data directory holds one folder per dataset (``mnist/``, ``fashion-mnist/``) with the
four original files. It comes from ``data.root`` or ``$SPIKELOCAL_DATA``. A missing file is
fetched from the usual mirror only if ``data.download`` is on; when that fails the error
names the directory and the files to put there.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
from pathlib import Path

import numpy as np

from ..errors import DataError

FILES = {
    "mnist": {
        "folder": "mnist",
        "url": "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion_mnist": {
        "folder": "fashion-mnist",
        "url": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}
CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                      "Shirt", "Sneaker", "Bag", "Ankle boot"],
}


def data_root(root: str | None) -> Path:
    """The data directory: the config's ``data.root``, else ``$SPIKELOCAL_DATA``, else ./data."""
    return Path(root or os.environ.get("SPIKELOCAL_DATA") or "data").expanduser()


def file_md5(path: Path) -> str:
    """Hex md5 of a file, read in 1 MiB blocks."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(url: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".part")
    with urllib.request.urlopen(url, timeout=20) as response, open(tmp, "wb") as fh:
        fh.write(response.read())
    os.replace(tmp, dest)


def _read_idx(path: Path) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: corrupt gzip file ({exc}); delete it and fetch it again") from None
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an idx file of unsigned bytes")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
    offset = 4 + 4 * ndim
    if len(raw) - offset != int(np.prod(dims)):
        raise DataError(f"{path}: truncated idx file ({len(raw) - offset} bytes, header says {int(np.prod(dims))})")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def ensure_files(name: str, root: Path, download: bool) -> Path:
    """Check (and if allowed fetch) the four files; return the dataset folder."""
    spec = FILES[name]
    folder = root / spec["folder"]
    files = [f for f in spec if f.endswith(".gz")]
    missing = [f for f in files if not (folder / f).is_file()]
    if missing and download:
        for f in missing:
            try:
                _download(spec["url"] + f, folder / f)
            except OSError:
                break
        missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise DataError(
            f"{name}: missing {', '.join(missing)} in {folder} (download failed or off); put the "
            f"original files there, or point data.root / $SPIKELOCAL_DATA at a folder holding {spec['folder']}/"
        )
    for f in files:
        actual = file_md5(folder / f)
        if actual != spec[f]:
            raise DataError(f"{folder / f}: md5 {actual} differs from the published {spec[f]}; the file is corrupt")
    return folder


def load_idx_dataset(name: str, root: Path, download: bool) -> tuple[np.ndarray, ...]:
    """(train_x [N,1,28,28] uint8, train_y, test_x, test_y)."""
    folder = ensure_files(name, root, download)
    train_x = _read_idx(folder / "train-images-idx3-ubyte.gz")[:, None]
    train_y = _read_idx(folder / "train-labels-idx1-ubyte.gz")
    test_x = _read_idx(folder / "t10k-images-idx3-ubyte.gz")[:, None]
    test_y = _read_idx(folder / "t10k-labels-idx1-ubyte.gz")
    if len(train_x) != len(train_y) or len(test_x) != len(test_y):
        raise DataError(f"{folder}: image and label files hold different numbers of samples")
    return train_x, train_y, test_x, test_y
