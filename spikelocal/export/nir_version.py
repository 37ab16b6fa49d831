"""The oldest ``nir`` the writer and reader work with, checked before they touch a graph.

spikelocal writes CubaLIF nodes with ``v_reset`` (hard reset; added in nir 1.0.6) and the
run's recording as NIR data (``nir.write_data``, added in nir 1.0.8). With an older nir the
export would end in a raw TypeError or AttributeError; this says what to install instead.
Keep this floor equal to the one in pyproject.toml.
"""
from __future__ import annotations

import re

from ..errors import ExportError
from importlib.metadata import PackageNotFoundError, version

NIR_FLOOR = (1, 0, 8)


def _parse(version: str) -> tuple[int, ...]:
    """(1, 0, 8) of '1.0.8', '1.0.8.post1' or '1.0.8rc1' (the leading digits of each part)."""
    parts = []
    for piece in version.split(".")[:3]:
        m = re.match(r"\d+", piece)
        if m is None:
            break
        parts.append(int(m.group()))
    return tuple(parts)


def installed_nir() -> str:
    """The installed nir's version ('' when it is not installed)."""
    try:
        return version("nir")
    except PackageNotFoundError:
        return ""


def require_nir(found: str | None = None) -> None:
    """Raise a one-line :class:`ExportError` when nir is missing or older than the floor."""
    found = installed_nir() if found is None else found
    floor = ".".join(map(str, NIR_FLOOR))
    if not found:
        raise ExportError(f"NIR export/import needs the package nir>={floor}; it is not installed "
                          f"(pip install 'nir>={floor}')")
    if _parse(found) < NIR_FLOOR:
        raise ExportError(f"NIR export/import needs nir>={floor} (CubaLIF.v_reset, NIR data files); found "
                          f"nir {found}. Install nir>={floor} here (pip install 'nir>={floor}'); readers that "
                          "pin nir<=1.0.4 (Sinabs, Rockpool) read the files of --reader sinabs|rockpool from "
                          "their own environment")
