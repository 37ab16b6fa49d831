"""Opening an HDF5 file for reading with a one-line error, for every reader of the package.

h5py is imported on first use: it is only needed by the netx and core-file readers and writers.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import ExportError


def open_hdf5(path: str | os.PathLike[str], what: str) -> Any:
    """``h5py.File(path, "r")``, or an :class:`ExportError` "PATH: not a readable WHAT (why)"."""
    import h5py

    try:
        return h5py.File(Path(path), "r")
    except OSError as exc:  # FileNotFoundError included; h5py raises OSError for non-HDF5 files
        raise ExportError(f"{path}: not a readable {what} ({exc})") from None
