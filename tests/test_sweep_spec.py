"""The sweep file: grid points, names, overrides, and one-line errors before anything runs."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import tiny_config_dict
from spikelocal.errors import ConfigError
from spikelocal.sweep.spec import load_sweep, point_names


def write_base(folder: Path, name: str = "tiny.yaml", **overrides) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(tiny_config_dict(**overrides)))
    return path


def write_sweep(folder: Path, text: str, name: str = "sweep.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_points_are_the_product_of_the_axes_in_order(tmp_path: Path):
    write_base(tmp_path)
    spec = load_sweep(write_sweep(tmp_path, """base: tiny.yaml
set: {training.epochs: 2}
grid:
  data.train_fraction: [0.5, 1.0]
  prune.sparsity: [0, 0.5]
  rule.name: [local]
  seed: [0, 1]
"""))
    assert spec.axes == ["data.train_fraction", "prune.sparsity", "rule.name", "seed"]
    assert len(spec.points) == 8
    first, last = spec.points[0], spec.points[-1]
    assert first.name == "train_fraction=0.5__sparsity=0__name=local__seed=0"
    assert last.values == {"data.train_fraction": 1.0, "prune.sparsity": 0.5, "rule.name": "local", "seed": 1}
    assert last.config.training.epochs == 2 and last.config.prune.sparsity == 0.5 and last.config.seed == 1
    assert len({p.name for p in spec.points}) == 8


def test_bases_add_an_axis_and_values_keep_their_types(tmp_path: Path):
    write_base(tmp_path, "spiking.yaml")
    write_base(tmp_path, "rate.yaml", spiking=False)
    spec = load_sweep(write_sweep(tmp_path, """bases: [spiking.yaml, rate.yaml]
grid:
  name: ["1e-3", yes-text]
  training.lr: [1e-3]
"""))
    assert spec.axes == ["base", "name", "training.lr"]
    assert [p.values["base"] for p in spec.points] == ["spiking", "spiking", "rate", "rate"]
    assert spec.points[0].config.name == "1e-3"            # a string stays a string
    assert spec.points[0].config.training.lr == 1e-3
    assert spec.points[2].config.network.neuron.kind == "relu"


def test_point_names_are_safe_and_unique():
    names = point_names(["a.x", "b.x", "c"], [("p/q r", 1, [1, 2]), ("p q/r", 1, [1, 2])])
    assert all("/" not in n and " " not in n for n in names)
    assert names[0].startswith("a.x=p-q-r__b.x=1__c=1-2-")
    assert len(set(names)) == 2


@pytest.mark.parametrize("text, message", [
    ("base: tiny.yaml\ngrid:\n  training.epoch: [1, 2]\n", "training.epoch: unknown key"),
    ("base: tiny.yaml\ngrid:\n  rule.momentum: [0.1]\n", "rule.momentum"),
    ("base: tiny.yaml\ngrid:\n  prune.sparsity: [0.5, 1.5]\n", "prune.sparsity"),
    ("base: tiny.yaml\ngrid: {}\n", "grid: empty"),
    ("base: tiny.yaml\n", "grid: empty"),
    ("base: tiny.yaml\ngrid:\n  seed: []\n", "seed: empty list"),
    ("base: tiny.yaml\ngrid:\n  seed: 3\n", "grid.seed"),
    ("base: missing.yaml\ngrid:\n  seed: [1]\n", "not found"),
    ("grid:\n  seed: [1]\n", "exactly one of"),
    ("base: tiny.yaml\ngird:\n  seed: [1]\n", "gird: unknown key"),
])
def test_bad_sweep_files_fail_with_one_line(tmp_path: Path, text: str, message: str):
    write_base(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_sweep(write_sweep(tmp_path, text))
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert str(tmp_path / "sweep.yaml") in str(info.value)
