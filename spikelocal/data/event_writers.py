"""Write event recordings in the on-disk formats that :mod:`spikelocal.data.events` reads.

For synthetic data sets, benchmarks and tests: a folder written with these functions loads
exactly like the published files.

- N-MNIST ``.bin``: 5 bytes per event, big-endian bit fields
  ``x[8] | y[8] | p[1] t[23]`` (Orchard et al. 2015; timestamps in microseconds).
- DVS Gesture (tonic's release): ``np.save`` of an [N, 4] array of (x, y, p, t in ms).
- SHD HDF5 (Cramer et al. 2020): variable-length ``spikes/times`` (float, s) and
  ``spikes/units`` (uint16) per sample, and ``labels`` (uint8).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def encode_nmnist(x: np.ndarray, y: np.ndarray, t_us: np.ndarray, p: np.ndarray) -> bytes:
    """The bytes of an N-MNIST file holding these events (t < 2**23 us, x, y < 240)."""
    x, y, t, p = (np.asarray(a, dtype=np.int64) for a in (x, y, t_us, p))
    if len(t) and (t.min() < 0 or t.max() >= 2**23):
        raise ValueError("N-MNIST timestamps must lie in [0, 2**23) microseconds")
    if len(x) and (min(x.min(), y.min()) < 0 or max(x.max(), y.max()) >= 240):
        raise ValueError("N-MNIST coordinates must lie in [0, 240) (y = 240 marks a timer overflow)")
    raw = np.empty((len(x), 5), dtype=np.uint8)
    raw[:, 0] = x
    raw[:, 1] = y
    raw[:, 2] = ((p & 1) << 7) | ((t >> 16) & 0x7F)
    raw[:, 3] = (t >> 8) & 0xFF
    raw[:, 4] = t & 0xFF
    return raw.tobytes()


def write_nmnist_file(path: Path, x: np.ndarray, y: np.ndarray, t_us: np.ndarray, p: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_nmnist(x, y, t_us, p))


def write_dvsgesture_file(path: Path, x: np.ndarray, y: np.ndarray, p: np.ndarray, t_ms: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.stack([np.asarray(a, dtype=np.int64) for a in (x, y, p, t_ms)], axis=1)
    with open(path, "wb") as fh:
        np.save(fh, arr)


def write_shd_file(path: Path, times_s: Sequence[np.ndarray], units: Sequence[np.ndarray],
                   labels: Sequence[int], speakers: Sequence[int] | None = None) -> None:
    """Also writes ``extra/keys`` (class names) and ``extra/speaker`` like the published files."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as fh:
        t_ds = fh.create_dataset("spikes/times", (len(times_s),), dtype=h5py.vlen_dtype(np.float32))
        u_ds = fh.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (t, u) in enumerate(zip(times_s, units)):
            t_ds[i] = np.asarray(t, dtype=np.float32)
            u_ds[i] = np.asarray(u, dtype=np.uint16)
        fh.create_dataset("labels", data=np.asarray(labels, dtype=np.uint8))
        fh.create_dataset("extra/keys", data=np.asarray([f"digit-{i}".encode() for i in range(20)]))
        fh.create_dataset("extra/speaker", data=np.asarray(
            speakers if speakers is not None else np.zeros(len(labels)), dtype=np.uint16))


def synthetic_nmnist(root: Path, n_train: int, n_test: int, events: int = 4000,
                     duration_us: int = 300_000, seed: int = 0) -> None:
    """A folder ROOT/NMNIST/{Train,Test}/<digit>/*.bin of random recordings, sized like
    N-MNIST (about 4,000 events over 300 ms per sample); each class fires mostly in its own
    band of rows so that a network can learn it."""
    rng = np.random.default_rng(seed)
    for split, n in (("Train", n_train), ("Test", n_test)):
        for i in range(n):
            label = i % 10
            x = rng.integers(0, 34, events)
            band = rng.random(events) < 0.5
            y = np.where(band, 3 * label + rng.integers(0, 4, events), rng.integers(0, 34, events))
            t = np.sort(rng.integers(0, duration_us, events))
            p = rng.integers(0, 2, events)
            write_nmnist_file(root / "NMNIST" / split / str(label) / f"{i:05d}.bin", x, y, t, p)
