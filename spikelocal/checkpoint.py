"""Checkpoints in safetensors (no pickle): tensors by name, everything else as JSON metadata.

Writes go to a temporary file in the same folder and are renamed into place, so a kill at
any moment leaves either the old checkpoint or the new one, never a torn file. A SHA-256 of
every tensor (name, dtype, shape, bytes) and of the JSON metadata is stored in the file's
header and checked on load, so a flipped bit on disk is an error and never a wrong number.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from .errors import RunDirError
from .outputs import atomic_write_text, refuse_symlink

__all__ = ["atomic_write_text", "save_checkpoint", "load_checkpoint", "check_shapes", "checksum"]

_META_KEY = "spikelocal"
_SUM_KEY = "spikelocal.sha256"


def checksum(tensors: dict[str, Tensor], meta_json: str) -> str:
    """SHA-256 over the metadata and every tensor's name, dtype, shape and bytes (sorted by name)."""
    h = hashlib.sha256(meta_json.encode("utf-8"))
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        h.update(f"\0{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()


def save_checkpoint(path: Path, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
    path = Path(path)
    refuse_symlink(path)
    refuse_symlink(path.parent)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    contiguous = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    meta_json = json.dumps(meta)
    save_file(contiguous, str(tmp), metadata={_META_KEY: meta_json, _SUM_KEY: checksum(contiguous, meta_json)})
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    if not path.is_file():
        raise RunDirError(f"{path}: no checkpoint (was the run killed before its first epoch ended?)")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as fh:
            header = fh.metadata() or {}
        meta_json = header.get(_META_KEY, "{}")
        meta = json.loads(meta_json)
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RunDirError(f"{path}: not a readable spikelocal checkpoint ({first})") from None
    stored = header.get(_SUM_KEY)
    if stored is None:
        warnings.warn(f"{path}: has no checksum (written by an older spikelocal); its integrity is not checked",
                      RuntimeWarning, stacklevel=2)
    elif checksum(tensors, meta_json) != stored:
        raise RunDirError(f"{path}: checksum mismatch, the file is corrupt (changed on disk since it was "
                          "written); restore it from a copy or train again")
    if not isinstance(meta, dict):
        raise RunDirError(f"{path}: not a readable spikelocal checkpoint (metadata is not a mapping)")
    return tensors, meta


def check_shapes(path: Path, expected: dict[str, Tensor], tensors: dict[str, Tensor], what: str,
                 names: bool = True) -> None:
    """One line naming the first tensor whose name or shape does not fit the config
    (``names=False``: compare the shapes of the tensors both have, for state made lazily)."""
    for name, want in expected.items():
        got = tensors.get(name)
        if got is None and not names:
            continue
        if got is None:
            raise RunDirError(f"{path}: {what} tensor {name!r} is missing; the checkpoint does not fit "
                              "this run's config")
        if tuple(got.shape) != tuple(want.shape):
            raise RunDirError(f"{path}: {what} tensor {name!r} has shape {tuple(got.shape)}, the config "
                              f"needs {tuple(want.shape)}; the checkpoint does not fit this run's config")
    extra = sorted(set(tensors) - set(expected))
    if extra and names:
        raise RunDirError(f"{path}: {what} tensor {extra[0]!r} is not part of this run's network; the "
                          "checkpoint does not fit this run's config")


def optimizer_tensors(state: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split a torch optimiser state_dict into tensors and JSON-able hyper-parameters."""
    tensors, plain = {}, {}
    for index, slots in state["state"].items():
        for key, value in slots.items():
            if isinstance(value, Tensor):
                tensors[f"opt.{index}.{key}"] = value
            else:
                plain[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "plain": plain}


def optimizer_state(tensors: dict[str, Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`optimizer_tensors`."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("opt."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for name, value in meta.get("plain", {}).items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}
