"""The sweep file and the points of its grid.

A sweep file::

    base: mnist_rate_local.yaml        # an experiment, relative to this file
    # bases: [a.yaml, b.yaml]          # or several: then 'base' is the first axis of the grid
    set:                               # optional: dotted keys applied to every point
      training.threads: 1
    grid:                              # dotted keys of the experiment schema -> lists of values
      rule.name: [local, bp]
      data.train_fraction: [0.05, 0.2, 1.0]
      seed: [0, 1, 2]

The points are the Cartesian product of the axes in the order written (the last one varies
fastest). Every point's config is loaded with ``load_experiment(base, overrides)`` when the
sweep file is read, so a key that is not in the schema or a bad value stops the sweep before
anything runs. A point's directory is named from its grid values.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, ValidationError

from ..config import ExperimentConfig, format_validation_error, load_experiment
from ..errors import ConfigError
from ..yamlio import KeyPath, line_of, parse_yaml

BASE_AXIS = "base"
SEED_AXIS = "seed"
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
_MAX_NAME = 150


class SweepFile(BaseModel):
    """The top level of a sweep file (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid")
    base: Optional[str] = None
    bases: Optional[list[str]] = None
    set: dict[str, Any] = {}
    grid: dict[str, list[Any]] = {}


@dataclass(frozen=True)
class Point:
    """One grid point: which experiment, which overrides, where its run directory goes."""

    name: str
    base: Path
    values: dict[str, Any]          # axis -> value (the 'base' axis holds the file stem)
    overrides: tuple[str, ...]      # 'dotted.key=value' for load_experiment (set, then grid)
    config: ExperimentConfig = field(compare=False, repr=False)


@dataclass
class SweepSpec:
    """A validated sweep file."""

    path: Path
    digest: str                     # sha256 of the sweep file's bytes
    axes: list[str]                 # 'base' (with bases) then the grid keys, in order
    grid: dict[str, list[Any]]
    points: list[Point]

    @property
    def name(self) -> str:
        return self.path.stem


def format_value(value: Any) -> str:
    """A value as an override accepts it: JSON is YAML, so types survive the round trip."""
    return json.dumps(value)


def _label(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return _UNSAFE.sub("-", text).strip("-") or "_"


def _short_keys(axes: list[str]) -> dict[str, str]:
    """The last part of each dotted key where that is unambiguous, else the whole key."""
    last = [a.split(".")[-1] for a in axes]
    return {a: (s if last.count(s) == 1 else a) for a, s in zip(axes, last)}


def point_names(axes: list[str], combos: list[tuple[Any, ...]]) -> list[str]:
    """Directory names from grid values (safe characters; a hash where needed to be unique)."""
    short = _short_keys(axes)
    names = []
    for combo in combos:
        name = "__".join(f"{short[a]}={_label(v)}" for a, v in zip(axes, combo)) if axes else "point"
        if len(name) > _MAX_NAME:
            name = name[:_MAX_NAME - 9] + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
        names.append(name)
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    out = []
    for name, combo in zip(names, combos):
        if seen[name] > 1:
            name += "-" + hashlib.sha256(json.dumps(combo, default=str).encode()).hexdigest()[:8]
        out.append(name)
    return out


def _error_at(path: Path, lines: dict[KeyPath, int], key: KeyPath, message: str) -> ConfigError:
    line = line_of(lines, key)
    return ConfigError(f"{path}{':' + str(line) if line else ''}: {message}")


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate a sweep file and every point's config; one-line ConfigError if bad."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    raw, lines = parse_yaml(data.decode("utf-8", errors="replace"), str(path))
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with 'base' (or 'bases'), 'set' and 'grid'")
    try:
        sweep = SweepFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(
            exc, [(str(path), lines, ())], unknown=" (a sweep file has base or bases, set, grid)")) from None
    if (sweep.base is None) == (sweep.bases is None):
        raise ConfigError(f"{path}: give exactly one of 'base: EXPERIMENT.yaml' or 'bases: [A.yaml, B.yaml, ...]'")
    if sweep.bases is not None and not sweep.bases:
        raise _error_at(path, lines, ("bases",), "bases: empty; list at least one experiment file")
    if not sweep.grid:
        raise _error_at(path, lines, ("grid",), "grid: empty; map at least one dotted config key to a list "
                        "of values (e.g. seed: [0, 1, 2])")
    for key, values in sweep.grid.items():
        if not values:
            raise _error_at(path, lines, ("grid", key), f"grid: {key}: empty list of values")
        if key == BASE_AXIS:
            raise _error_at(path, lines, ("grid", key), "grid: 'base' is not a config key; use 'bases:' "
                            "to sweep over experiment files")
    bases = [path.parent / b for b in ([sweep.base] if sweep.base is not None else sweep.bases or [])]
    for i, b in enumerate(bases):
        if not b.is_file():
            where = ("base",) if sweep.base is not None else ("bases", i)
            raise _error_at(path, lines, where, f"{'.'.join(map(str, where))}: experiment {b} not found "
                            "(paths are relative to the sweep file)")
    if sweep.bases is not None and len({b.stem for b in bases}) != len(bases):
        raise _error_at(path, lines, ("bases",), "bases: two experiment files share a name; the 'base' "
                        "axis uses file names")
    axes = ([BASE_AXIS] if sweep.bases is not None else []) + list(sweep.grid)
    base_values = [b.stem for b in bases]
    value_lists = ([base_values] if sweep.bases is not None else []) + list(sweep.grid.values())
    combos = list(itertools.product(*value_lists))
    names = point_names(axes, combos)
    set_overrides = [f"{k}={format_value(v)}" for k, v in sweep.set.items()]
    points = []
    for name, combo in zip(names, combos):
        values = dict(zip(axes, combo))
        base = bases[base_values.index(values[BASE_AXIS])] if BASE_AXIS in values else bases[0]
        overrides = tuple(set_overrides + [f"{k}={format_value(v)}" for k, v in values.items() if k != BASE_AXIS])
        try:
            config = load_experiment(base, list(overrides))
        except ConfigError as exc:
            raise ConfigError(f"{path}: point {name}: {exc}") from None
        points.append(Point(name, base, values, overrides, config))
    return SweepSpec(path, hashlib.sha256(data).hexdigest(), axes,
                     {a: list(v) for a, v in zip(axes, value_lists)}, points)
