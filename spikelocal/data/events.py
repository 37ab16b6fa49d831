"""Event-camera and spike-train datasets through tonic: N-MNIST, DVS Gesture and SHD.

The files are read where tonic's dataset classes keep them, under the data directory ROOT
(``data.root`` or ``$SPIKELOCAL_DATA``)::

    ROOT/NMNIST/Train/<digit>/*.bin, ROOT/NMNIST/Test/<digit>/*.bin
        N-MNIST (Orchard et al., Front. Neurosci. 2015): 5-byte ATIS events, sensor 34 x 34.
    ROOT/DVSGesture/ibmGestureTrain/user<NN>_<lighting>/<label>.npy, .../ibmGestureTest/...
        DVS Gesture (Amir et al., CVPR 2017) as tonic's preprocessed release: one [N, 4]
        array of (x, y, p, t in ms) per gesture, labels 0..10, sensor 128 x 128.
    ROOT/SHD/shd_train.h5, ROOT/SHD/shd_test.h5
        Spiking Heidelberg Digits (Cramer et al., IEEE TNNLS 2020): ``spikes/times`` (s) and
        ``spikes/units`` (0..699) per sample, ``labels`` 0..19.

When a split's files are missing and ``data.download`` is on, tonic's own download is tried;
any failure ends in a one-line :class:`DataError` saying where to put the files.

Binning (every sample gives exactly T = ``data.steps`` frames). With bin width w
(``events.window_ms``) and start t0, frame k counts the events with
``t0 + k w <= t < t0 + (k + 1) w``, per polarity channel and pixel (tonic ``ToFrame``);
later events are dropped. t0 = 0 for N-MNIST and SHD (their clocks start with the
recording) and the first event for DVS Gesture (gestures cut from longer recordings).
``events.size`` scales coordinates first (tonic ``Downsample``: x' = floor(x * W' / W)),
e.g. DVS Gesture 128 x 128 -> 32 x 32 as in DECOLLE (Kaiser et al. 2020).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from ..config import DataConfig
from ..config.datasets import EVENT_SPECS as SPECS, frame_shape
from ..errors import DataError
from .event_cache import cache_key, load_cached, save_cached
from .event_frames import EventFrames

log = logging.getLogger(__name__)

_CAMERA = np.dtype([("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)])
_AUDIO = np.dtype([("t", np.float64), ("x", np.int64), ("p", np.int64)])


# ---------------------------------------------------------------- files -----------------
def _present(path: Path, dataset: str) -> bool:
    if dataset == "shd":
        return path.is_file()
    ext = ".bin" if dataset == "nmnist" else ".npy"
    return path.is_dir() and any(p.suffix == ext for p in path.rglob(f"*{ext}"))


def ensure_split(dataset: str, root: Path, split: str, download: bool) -> Path:
    """The split's folder (cameras) or file (SHD); tries tonic's download when missing."""
    spec = SPECS[dataset]
    path = root / spec.folder / spec.splits[split]
    if _present(path, dataset):
        return path
    reason = "download off"
    if download:
        try:
            import tonic.datasets

            cls = getattr(tonic.datasets, spec.folder)
            cls(save_to=str(root), train=split == "train")
            reason = "download gave no files"
        except Exception as exc:  # noqa: BLE001 - tonic's download raises many kinds (URLError, RuntimeError...)
            reason = f"download failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if _present(path, dataset):
        return path
    raise DataError(f"{dataset}: no {split} data at {path} ({reason}); put {spec.layout} in "
                    f"{root / spec.folder}, or point data.root / $SPIKELOCAL_DATA at the folder holding {spec.folder}/")


def list_camera_files(dataset: str, folder: Path) -> tuple[list[Path], np.ndarray]:
    """Sorted sample files of a camera split and their labels (from the folder or file name)."""
    classes = len(SPECS[dataset].classes)
    files, labels = [], []
    for dirpath, dirnames, names in os.walk(folder):
        dirnames.sort()
        for name in sorted(names):
            path = Path(dirpath) / name
            if dataset == "nmnist" and name.endswith(".bin"):
                digit = Path(dirpath).name[-1:]
                if not digit.isdigit():
                    raise DataError(f"{path}: an N-MNIST file must sit in a folder named by its digit (0..9)")
                label = int(digit)
            elif dataset == "dvsgesture" and name.endswith(".npy"):
                if not path.stem.isdigit() or int(path.stem) >= classes:
                    raise DataError(f"{path}: a DVS Gesture file must be named <label>.npy with label 0..{classes - 1}")
                label = int(path.stem)
            else:
                continue
            files.append(path)
            labels.append(label)
    return files, np.asarray(labels, dtype=np.int64)


# ---------------------------------------------------------------- readers ---------------
def _check_camera(path: Path, ev: np.ndarray, sensor: tuple[int, int, int]) -> None:
    w, h, _ = sensor
    bad = (ev["x"] < 0) | (ev["x"] >= w) | (ev["y"] < 0) | (ev["y"] >= h)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{path}: event {i} at x={ev['x'][i]}, y={ev['y'][i]} is outside the {w}x{h} sensor "
                        "(wrong file format?)")
    if ((ev["p"] != 0) & (ev["p"] != 1)).any():
        raise DataError(f"{path}: polarities must be 0 or 1 (wrong file format?)")
    if len(ev) and ev["t"].min() < 0:
        raise DataError(f"{path}: negative timestamps (wrong file format?)")


def read_nmnist(path: Path) -> np.ndarray:
    """Events (x, y, t in us, p) of one N-MNIST .bin file, read with tonic."""
    from tonic.io import read_mnist_file

    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    if size == 0 or size % 5:
        raise DataError(f"{path}: truncated N-MNIST file ({size} bytes is not a whole, non-zero number "
                        "of 5-byte events)")
    try:
        events = read_mnist_file(str(path), dtype=_CAMERA)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    _check_camera(path, events, SPECS["nmnist"].sensor)
    return events


def read_dvsgesture(path: Path) -> np.ndarray:
    """Events (x, y, t in us, p) of one DVS Gesture .npy file of tonic's release."""
    from tonic.io import make_structured_array

    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: not a readable .npy event array ({first})") from None
    if arr.ndim != 2 or arr.shape[1] != 4 or not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"{path}: expected a numeric [N, 4] array of (x, y, p, t in ms) events, "
                        f"got {arr.dtype} {list(arr.shape)}")
    if not np.isfinite(arr).all():
        raise DataError(f"{path}: non-finite values in the event array")
    t_us = np.rint(arr[:, 3].astype(np.float64) * 1000).astype(np.int64)
    events = make_structured_array(arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), t_us,
                                   arr[:, 2].astype(np.int64), dtype=_CAMERA)
    _check_camera(path, events, SPECS["dvsgesture"].sensor)
    return events


def read_shd(path: Path) -> Iterator[tuple[np.ndarray, int]]:
    """(events (t in us, unit, p=0), label) of every sample of an SHD HDF5 file."""
    import h5py
    from tonic.io import make_structured_array

    channels = SPECS["shd"].sensor[0]
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"{path}: not a readable HDF5 file ({str(exc).splitlines()[0]})") from None
    with fh:
        for key in ("spikes/times", "spikes/units", "labels"):
            if key not in fh:
                raise DataError(f"{path}: no '{key}' (an SHD file holds spikes/times, spikes/units and labels)")
        try:
            times, units, labels = fh["spikes/times"][()], fh["spikes/units"][()], fh["labels"][()]
        except (OSError, ValueError, TypeError) as exc:
            raise DataError(f"{path}: unreadable SHD arrays ({str(exc).splitlines()[0]})") from None
        if not (len(times) == len(units) == len(labels)):
            raise DataError(f"{path}: spikes/times ({len(times)}), spikes/units ({len(units)}) and labels "
                            f"({len(labels)}) differ in length")
        for i, (t, u, y) in enumerate(zip(times, units, labels)):
            t, u = np.asarray(t, dtype=np.float64), np.asarray(u, dtype=np.int64)
            if t.shape != u.shape or t.ndim != 1:
                raise DataError(f"{path}: sample {i}: spikes/times and spikes/units differ in length")
            if len(u) and (u.min() < 0 or u.max() >= channels):
                raise DataError(f"{path}: sample {i}: unit {int(u.max())} is outside the {channels} channels")
            if not np.isfinite(t).all() or (len(t) and t.min() < 0):
                raise DataError(f"{path}: sample {i}: spike times must be finite and >= 0 (seconds)")
            if not 0 <= int(y) < len(SPECS["shd"].classes):
                raise DataError(f"{path}: sample {i}: label {int(y)} is outside 0..{len(SPECS['shd'].classes) - 1}")
            yield make_structured_array(t * 1e6, u, 0, dtype=_AUDIO), int(y)


# ---------------------------------------------------------------- binning ---------------
class Binner:
    """Events of one sample -> counts [T, *frame_shape] with tonic's Downsample and ToFrame."""

    def __init__(self, cfg: DataConfig) -> None:
        from tonic.transforms import Downsample, ToFrame

        spec, ev = SPECS[cfg.dataset], cfg.events
        self.shape = frame_shape(cfg)
        self.steps = cfg.steps
        self.window_us = ev.window_ms * 1000.0
        self.from_first_event = cfg.dataset == "dvsgesture"
        self.merge = cfg.dataset == "shd" or ev.polarity == "merge"
        if cfg.dataset == "shd":
            target = (self.shape[0], 1)
        else:
            target = (self.shape[2], self.shape[1])
        self.downsample = (Downsample(sensor_size=spec.sensor, target_size=target)
                           if target != spec.sensor[:2] else None)
        self.sensor = (*target, 1 if self.merge else spec.sensor[2])
        self.to_frame = ToFrame  # built per sample: start and end times differ

    def __call__(self, events: np.ndarray) -> np.ndarray:
        if len(events) and np.any(np.diff(events["t"]) < 0):
            events = events[np.argsort(events["t"], kind="stable")]
        t0 = float(events["t"][0]) if (self.from_first_event and len(events)) else 0.0
        end = t0 + self.steps * self.window_us
        events = events[(events["t"] >= t0) & (events["t"] < end)]
        if len(events) == 0:
            return np.zeros((self.steps, *self.shape), dtype=np.int16)
        if self.downsample is not None:
            events = self.downsample(events)
        if self.merge:
            events = events.copy()
            events["p"] = 0
        frames = self.to_frame(sensor_size=self.sensor, time_window=self.window_us,
                               start_time=t0, end_time=end)(events)
        frames = frames[: self.steps]
        if len(frames) < self.steps:
            frames = np.concatenate([frames, np.zeros((self.steps - len(frames), *frames.shape[1:]), frames.dtype)])
        return frames.reshape(self.steps, *self.shape)


# ---------------------------------------------------------------- loading ---------------
def binning_params(cfg: DataConfig, split: str) -> dict[str, Any]:
    """Everything the binned tensors depend on (the cache key)."""
    ev = cfg.events
    return {"dataset": cfg.dataset, "split": split, "steps": cfg.steps, "window_ms": ev.window_ms,
            "size": list(frame_shape(cfg)), "polarity": ev.polarity}


def _samples(dataset: str, path: Path) -> tuple[list[Path], Optional[np.ndarray]]:
    if dataset == "shd":
        return [path], None
    files, labels = list_camera_files(dataset, path)
    if not files:
        raise DataError(f"{dataset}: no sample files under {path}")
    return files, labels


def load_event_split(cfg: DataConfig, root: Path, split: str) -> tuple[EventFrames, np.ndarray]:
    """One split, binned (from the cache when it holds these parameters and files)."""
    spec = SPECS[cfg.dataset]
    path = ensure_split(cfg.dataset, root, split, cfg.download)
    files, labels = _samples(cfg.dataset, path)
    cache_dir = Path(cfg.events.cache_dir).expanduser() if cfg.events.cache_dir else root / spec.folder / "cache"
    cache_file = cache_dir / f"{cfg.dataset}-{split}-{cache_key(binning_params(cfg, split), files, root)}.npz"
    if cfg.events.cache:
        cached = load_cached(cache_file)
        if cached is not None:
            return cached
    log.info("binning %s %s (%d files) into %d frames of %g ms", spec.title, split, len(files),
             cfg.steps, cfg.events.window_ms)
    binner = Binner(cfg)
    if cfg.dataset == "shd":
        label_list: list[int] = []

        def shd_frames() -> Iterator[np.ndarray]:
            for events, label in read_shd(files[0]):
                label_list.append(label)
                yield binner(events)

        packed = EventFrames.from_dense(shd_frames(), binner.shape, cfg.steps)
        labels = np.asarray(label_list, dtype=np.int64)
    else:
        reader = read_nmnist if cfg.dataset == "nmnist" else read_dvsgesture
        packed = EventFrames.from_dense((binner(reader(f)) for f in files), binner.shape, cfg.steps)
    if cfg.events.cache:
        save_cached(cache_file, packed, labels)
    return packed, labels


def load_event_dataset(cfg: DataConfig, root: Path) -> tuple[EventFrames, np.ndarray, EventFrames, np.ndarray, list[str]]:
    """(train frames, train labels, test frames, test labels, class names)."""
    train, train_y = load_event_split(cfg, root, "train")
    test, test_y = load_event_split(cfg, root, "test")
    return train, train_y, test, test_y, list(SPECS[cfg.dataset].classes)
