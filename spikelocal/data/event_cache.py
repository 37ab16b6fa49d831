"""On-disk cache of binned event datasets, so that only the first load bins the recordings.

One ``.npz`` file (plain arrays, no pickle) per dataset split, named by a key: the SHA-256 of
every binning parameter, the cache format version and each source file's relative path, size
and modification time. Change any of them and the key changes, so a stale cache is never
read. Files are written to a temporary name and renamed, so a crash leaves no partial cache;
a cache that cannot be read or written is skipped with a warning (the data are binned again).
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .event_frames import EventFrames

CACHE_VERSION = 1


def cache_key(params: dict[str, Any], files: list[Path], base: Path) -> str:
    """A hex key for these binning parameters and these source files."""
    listing = []
    for path in files:
        st = path.stat()
        listing.append([str(path.relative_to(base)) if path.is_relative_to(base) else str(path),
                        st.st_size, st.st_mtime_ns])
    blob = json.dumps({"version": CACHE_VERSION, "params": params, "files": listing}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def load_cached(path: Path) -> Optional[tuple[EventFrames, np.ndarray]]:
    """(frames, labels) from a cache file, or None when absent or unreadable."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            frames = EventFrames(z["offsets"], z["index"], z["count"], int(z["steps"]),
                                 tuple(int(s) for s in z["frame_shape"]))
            labels = z["labels"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        warnings.warn(f"{path}: unreadable event cache ({exc}); binning the recordings again", stacklevel=2)
        return None
    if len(labels) != len(frames) or frames.offsets[-1] != len(frames.index):
        warnings.warn(f"{path}: inconsistent event cache; binning the recordings again", stacklevel=2)
        return None
    return frames, labels


def save_cached(path: Path, frames: EventFrames, labels: np.ndarray) -> None:
    """Write atomically; on failure warn and go on (the cache only saves time)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            np.savez(fh, offsets=frames.offsets, index=frames.index, count=frames.count,
                     steps=np.int64(frames.steps), frame_shape=np.asarray(frames.frame_shape, np.int64),
                     labels=labels)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        warnings.warn(f"{path}: cannot write the event cache ({exc.strerror or exc}); "
                      "the next load bins the recordings again", stacklevel=2)
