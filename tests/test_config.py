"""The experiment schema: numbers as users write them, one-line errors with file and line."""
from __future__ import annotations

from pathlib import Path

import pytest

from spikelocal.config import load_experiment
from spikelocal.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "models").mkdir(exist_ok=True)
    (tmp_path / "models" / "small.yaml").write_text(
        "neuron: {kind: lif}\nlayers:\n  - {kind: dense, units: 8}\n  - {kind: dense, units: 10}\n")
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


def test_every_shipped_experiment_validates():
    for path in sorted((REPO / "experiments").glob("*.yaml")):
        text = path.read_text()
        if text.lstrip().startswith(("base:", "bases:")) or "\ngrid:" in text:
            continue  # sweep files
        config = load_experiment(path)
        assert config.network.layers, path


def test_exponent_floats_are_numbers(tmp_path):
    cfg = load_experiment(_write(tmp_path, "model: small\ntraining: {lr: 1e-3}\n"))
    assert cfg.training.lr == pytest.approx(1e-3)
    assert cfg.network.neuron.tau_mem == pytest.approx(10e-3)


def test_model_overrides_merge_and_set(tmp_path):
    path = _write(tmp_path, "model: small\nnetwork:\n  neuron: {tau_mem: 2e-2}\n")
    cfg = load_experiment(path, ["training.epochs=4", "network.layers.0.units=16"])
    assert cfg.network.neuron.tau_mem == pytest.approx(0.02)
    assert cfg.network.neuron.kind == "lif"
    assert cfg.training.epochs == 4 and cfg.network.layers[0].units == 16


@pytest.mark.parametrize("text,expected", [
    ("model: small\ntraining:\n  epochs: 2\n  lrr: 0.1\n", ["exp.yaml:4", "training.lrr", "unknown key"]),
    ("model: small\ndata:\n  steps: 0\n", ["exp.yaml:3", "data.steps", "greater than 0"]),
    ("model: small\ndata:\n  train_fraction: 1.5\n", ["exp.yaml:3", "data.train_fraction", "less than or equal to 1"]),
    ("model: small\ndata:\n  gain: -0.2\n", ["exp.yaml:3", "data.gain"]),
    ("model: small\ntraining:\n  optimizer: rmsprop\n", ["exp.yaml:3", "training.optimizer", "'rmsprop'", "adam"]),
    ("model: small\ntraining:\n  epochs: many\n", ["exp.yaml:3", "training.epochs", "integer"]),
    ("model: small\nrule: {name: magic}\n", ["exp.yaml:2", "rule.name", "magic", "local"]),
    ("model: small\nrule: {name: local, los: ce}\n", ["rule.los", "unknown key"]),
    ("model: missing_model\n", ["missing_model", "not found"]),
    ("model: small\ntraining: [1, 2\n", ["exp.yaml", "not valid YAML"]),
])
def test_bad_input_is_one_line_naming_file_line_and_key(tmp_path, text, expected):
    with pytest.raises(ConfigError) as err:
        load_experiment(_write(tmp_path, text))
    message = str(err.value)
    assert "\n" not in message
    for part in expected:
        assert part in message, message


def test_error_in_model_file_names_the_model_file(tmp_path):
    path = _write(tmp_path, "model: small\n")
    (tmp_path / "models" / "small.yaml").write_text("neuron: {kind: lif, tau_mem: -1}\nlayers:\n  - {kind: dense, units: 10}\n")
    with pytest.raises(ConfigError, match=r"small\.yaml:1: network\.neuron\.tau_mem"):
        load_experiment(path)


def test_last_layer_must_match_classes(tmp_path):
    from spikelocal.core.network import Network

    cfg = load_experiment(_write(tmp_path, "model: small\n"), ["network.layers.1.units=7"])
    with pytest.raises(ConfigError, match="10 units"):
        Network.from_config(cfg.network, (1, 28, 28), 10, 0)
