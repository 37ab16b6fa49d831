"""Writing outputs without destroying anything the user did not ask us to replace.

Every file goes to a temporary name in its folder and is renamed into place, so a kill
leaves the old file or the new one. Nothing is written through a symbolic link (a link at
``RUN/log.txt`` would otherwise send our writes anywhere on the disk). A command's output
target that already exists is an error naming it unless the user passed ``--force``, and
even then a run directory that the command reads is never replaced.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

from .errors import RunDirError, SpikelocalError

#: what a run directory holds that no export, plot or report may replace
RUN_ENTRIES = ("config.yaml", "status.json", "metrics.csv", "summary.json", "checkpoints", "log.txt",
               "recordings")


def refuse_symlink(path: Path, root: Path | None = None) -> None:
    """Refuse ``path`` if it, or a folder between ``root`` and it, is a symbolic link."""
    path = Path(path)
    parts = [path]
    if root is not None:
        try:
            rel = path.relative_to(root)
        except ValueError:
            rel = Path()
        parts = [Path(root) / Path(*rel.parts[:i]) for i in range(1, len(rel.parts) + 1)] or [path]
    for part in parts:
        if part.is_symlink():
            raise RunDirError(f"{part}: is a symbolic link; spikelocal does not write through links "
                              "(remove it or choose another output)")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a private temporary file and a rename."""
    path = Path(path)
    refuse_symlink(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write a text file (UTF-8) through a temporary file and a rename."""
    atomic_write_bytes(path, text.encode("utf-8"))


def append_line(path: Path, line: str) -> None:
    """Append one line to a log file, never through a link."""
    path = Path(path)
    refuse_symlink(path)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o644)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(line.rstrip("\n") + "\n")


def claim_output(target: Path, force: bool = False, reading: Iterable[Path] = ()) -> None:
    """Check that ``target`` may be written: absent, or ``force`` and not part of a run read.

    ``reading`` lists the run directories the command reads; with ``--force`` they, their
    parents and their own entries (config, checkpoints, ...) are still refused.
    """
    target = Path(target)
    if target.name in ("", ".", ".."):
        raise SpikelocalError(f"--out {str(target)!r}: name a new file or folder, not {str(target)!r}")
    refuse_symlink(target)
    resolved = target.resolve()
    for run in reading:
        run = Path(run).resolve()
        if resolved == run or resolved in run.parents:
            raise SpikelocalError(f"--out {target}: is the run directory being read (or holds it); "
                                  "choose another --out")
        if resolved.parent == run and resolved.name in RUN_ENTRIES:
            raise SpikelocalError(f"--out {target}: is the run's own {resolved.name}; choose another --out")
    if (target.exists() or target.is_symlink()) and not force:
        raise SpikelocalError(f"{target}: exists; choose another --out or pass --force to replace it")
