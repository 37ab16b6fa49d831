"""What every exporter shares: atomic output paths and the checks of what a format can express.

An export either leaves a complete file at its output path or nothing at all: writers get
a temporary path beside the target, which is renamed into place only when they return.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import ExportError
from ..core.network import Network


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], folder: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` (the caller makes a file there, or a folder
    with ``folder``); rename it into place on success, delete it on any failure. Whether an
    existing ``path`` may be replaced is decided before (``spikelocal.outputs.claim_output``)."""
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise ExportError(f"{str(path)!r}: name a new file or folder to write")
    if not path.parent.is_dir():
        raise ExportError(f"{path}: the folder {path.parent} does not exist")
    if path.is_symlink():
        raise ExportError(f"{path}: is a symbolic link; exports are not written through links")
    if path.exists() and path.is_dir() != folder:
        raise ExportError(f"{path}: exists and is {'not ' if folder else ''}a folder; this format writes a "
                          f"{'folder' if folder else 'file'}")
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    old = path.with_name(f".{path.name}.old{os.getpid()}")
    try:
        yield tmp
        if path.is_dir() and tmp.is_dir():  # the caller claimed it (--force): swap, then drop the old one
            os.replace(path, old)
        os.replace(tmp, path)
        if old.is_dir():
            shutil.rmtree(old)
    finally:
        if old.is_dir() and not path.exists():  # the swap was interrupted: put the old one back
            os.replace(old, path)
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def layer_name(index: int) -> str:
    """1-based layer names, as in metrics.csv (``layer1`` ...)."""
    return f"layer{index + 1}"


def require_feed_forward(net: Network, fmt: str, recurrent_ok: bool = False, adaptive_ok: bool = False) -> None:
    """Refuse recurrent layers (unless ``recurrent_ok``) and adaptive neurons where a format or
    converter has no place for them (netx as written holds feed-forward chains of CUBA
    neurons only; NIR holds the recurrent edge of a LIF layer, but has no adaptive neuron)."""
    for i, layer in enumerate(net.layers):
        if layer.kind == "recurrent" and not recurrent_ok:
            raise ExportError(f"{layer_name(i)}: {fmt} cannot hold a recurrent layer (recurrent weights "
                              "from the layer's own spikes); export a feed-forward network")
        if layer.neuron_cfg.kind == "alif" and not adaptive_ok:
            raise ExportError(f"{layer_name(i)}: {fmt} cannot express the adaptive threshold of an "
                              "'alif' neuron; it supports lif neurons")


def require_spiking(net: Network, fmt: str, allowed_rate: Iterable[str] = ()) -> None:
    """Refuse rate layers a spiking-only format cannot express (``allowed_rate`` may list
    rate kinds, such as ``linear``, that the format can still write)."""
    allowed = set(allowed_rate)
    for i, layer in enumerate(net.layers):
        kind = layer.neuron_cfg.kind
        if kind != "lif" and kind not in allowed:
            supported = ", ".join(["lif"] + sorted(allowed))
            raise ExportError(
                f"{layer_name(i)}: {fmt} cannot express a {kind!r} (rate) neuron; "
                f"it supports {supported} neurons (train the network with those neurons to export it)"
            )


def require_hard_reset(net: Network, fmt: str) -> None:
    for i, layer in enumerate(net.layers):
        if layer.neuron_cfg.kind == "lif" and layer.neuron_cfg.reset != "hard":
            raise ExportError(
                f"{layer_name(i)}: {fmt} supports only the hard reset to 0, "
                f"not neuron.reset={layer.neuron_cfg.reset!r}"
            )
