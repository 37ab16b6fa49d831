"""Every number in a config is finite and bounded: infinities and absurd magnitudes are one
line naming the key, before anything runs."""
from __future__ import annotations

import pytest

from spikelocal.errors import ConfigError

from conftest import tiny_config


@pytest.mark.parametrize("key", ["training__lr", "network__neuron__threshold", "network__neuron__dt",
                                 "network__weight_scale", "network__readout__scale",
                                 "noise__gaussian", "network__neuron__tau_mem"])
@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_infinite_and_nan_values_name_their_key(key, value):
    with pytest.raises(ConfigError, match=key.split("__")[-1]):
        tiny_config(**{key: value})


def test_huge_numbers_are_refused():
    with pytest.raises(ConfigError, match="lr.*at most 1e\\+12"):
        tiny_config(training__lr=1e300)
    with pytest.raises(ConfigError, match="batch_size.*2\\^53"):
        tiny_config(training__batch_size=2**60)


@pytest.mark.parametrize("seed", [-1, 2**32, 2**70])
def test_seeds_fit_the_generators(seed):
    with pytest.raises(ConfigError, match="seed"):
        tiny_config(seed=seed)


def test_ordinary_values_still_load():
    cfg = tiny_config(training__lr=3e-3, seed=2**32 - 1, network__neuron__threshold=1e3)
    assert cfg.seed == 2**32 - 1 and cfg.training.lr == 3e-3


@pytest.mark.parametrize("item,key", [("training.lr=.inf", "training.lr"), ("rule.lrr=3", "rule.lrr"),
                                      ("network.layers.0.units=-3", "network.layers.0.units"),
                                      ("rule.name=nope", "rule.name")])
def test_override_errors_name_the_override_not_a_line(item, key):
    from spikelocal.config import load_experiment

    from conftest import REPO

    with pytest.raises(ConfigError) as info:
        load_experiment(REPO / "experiments" / "quickstart.yaml", [item])
    message = str(info.value)
    assert f"quickstart.yaml: override --set {item}: {key}" in message, message
    assert "quickstart.yaml:" not in message.replace("quickstart.yaml: override", "")
