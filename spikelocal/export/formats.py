"""The registry of export formats: a format is one module that registers a writer here.

A writer gets the run's config, its network, the output path and :class:`ExportOptions`,
writes the format (a complete output or none) and returns the parity checks it ran (empty
when ``options.test`` is None). :func:`spikelocal.export.export` does the rest (the run, the
output claim, the test samples), so adding a format touches no other module.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from torch import Tensor

from ..core.network import Network


@dataclass(frozen=True)
class ExportOptions:
    run_dir: Path
    dt: Optional[float] = None
    target: str = "loihi"
    weight_bits: int = 8
    samples: int = 20
    reader: Optional[str] = None
    #: the encoded test images [n, T, ...] the parity checks feed, or None (no checks)
    test: Optional[Tensor] = None
    #: encodes the first n test images as the run does: (spikes [n, T, ...], labels)
    test_samples: Callable[[int], tuple[Tensor, Tensor]] = lambda n: (None, None)  # type: ignore


Writer = Callable[[Any, Network, Path, ExportOptions], dict[str, Any]]


@dataclass(frozen=True)
class Format:
    write: Writer
    default_name: str
    #: a recurrent network may be written (the reader runs recurrence)
    recurrent_ok: bool = False
    #: an ALIF (adaptive threshold) network may be written
    adaptive_ok: bool = False
    #: more paths the output owns (claimed with it): f(path) -> paths
    companions: Callable[[Path], list[Path]] = lambda path: []


FORMATS_BY_NAME: dict[str, Format] = {}


def register(name: str, default_name: str, recurrent_ok: bool = False, adaptive_ok: bool = False,
             companions: Callable[[Path], list[Path]] = lambda path: []) -> Callable[[Writer], Writer]:
    """Register the writer of format ``name`` (its default output name under ``export/``)."""

    def decorator(write: Writer) -> Writer:
        if name in FORMATS_BY_NAME:
            raise ValueError(f"export format {name!r} is already registered")
        FORMATS_BY_NAME[name] = Format(write, default_name, recurrent_ok, adaptive_ok, companions)
        return write

    return decorator


__all__ = ["ExportOptions", "Format", "FORMATS_BY_NAME", "register"]
