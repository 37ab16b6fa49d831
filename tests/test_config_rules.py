"""The rule section: one options model per rule, picked by name; validation never mutates."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import tiny_config, tiny_config_dict
from spikelocal.config import (RULE_OPTIONS, LocalOptions, SoftHebbOptions, load_experiment, load_resolved,
                               resolve_experiment)
from spikelocal.errors import ConfigError
from spikelocal.rules import RULES

REPO = Path(__file__).resolve().parents[1]


def _load(tmp_path: Path, rule: dict, **overrides) -> object:
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(tiny_config_dict(rule=rule, **overrides), sort_keys=False))
    return load_experiment(path)


def test_every_registered_rule_has_its_options_model_in_the_config():
    assert set(RULE_OPTIONS) == set(RULES.names())
    for name in RULES.names():
        assert RULES.get(name).Options is RULE_OPTIONS[name]
        # what a rule trains lives on its options model; a class attribute would go unread
        assert not {"supports", "requires_bias"} & set(vars(RULES.get(name))), name


def test_rule_is_a_typed_model_chosen_by_name_default_local():
    cfg = tiny_config(rule={"name": "fa", "feedback_scale": 2.0})
    assert type(cfg.rule).__name__ == "FAOptions" and cfg.rule.feedback_scale == 2.0
    raw = tiny_config_dict()
    del raw["rule"]
    assert isinstance(resolve_experiment(raw, "x.yaml", {}, REPO).rule, LocalOptions)
    assert isinstance(tiny_config(rule={"loss": "mse"}).rule, LocalOptions)


def test_typo_in_a_rule_option_is_one_line_naming_file_line_key_and_accepted_keys(tmp_path):
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, {"name": "local", "lrr": 0.1})
    line = next(i for i, text in enumerate((tmp_path / "exp.yaml").read_text().splitlines(), 1)
                if "lrr" in text)
    assert str(info.value) == (f"{tmp_path / 'exp.yaml'}:{line}: rule.lrr: unknown key; rule 'local' takes: "
                               "name, loss, mode, window")


def test_unknown_rule_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"rule\.name: unknown rule 'hebb'; known: .*softhebb"):
        tiny_config(rule={"name": "hebb"})


@pytest.mark.parametrize("name", sorted(n for n, m in RULE_OPTIONS.items() if "window" in m.model_fields))
def test_window_chunk_is_rejected_with_what_replaces_it(name):
    with pytest.raises(ConfigError) as info:
        tiny_config(rule={"name": name, "window": "chunk"})
    assert str(info.value).endswith(
        "rule.window: 'chunk' was removed: the loss window no longer follows training.time_chunk; "
        "use 'sample' (the whole sample), 'step', or a number of steps")


@pytest.mark.parametrize("window,ok", [("sample", True), ("step", True), (5, True), (0, False), ("all", False)])
def test_window_is_sample_step_or_a_positive_number_of_steps(window, ok):
    if ok:
        assert tiny_config(rule={"name": "bp", "window": window}).rule.window == window
    else:
        with pytest.raises(ConfigError, match="rule.window"):
            tiny_config(rule={"name": "bp", "window": window})
    assert LocalOptions().window == "sample"


def test_a_bias_the_rule_needs_is_set_before_validation_not_after():
    layers = [{"kind": "dense", "units": 32}, {"kind": "dense", "units": 4}]
    raw = tiny_config_dict(rule={"name": "softhebb"}, network__layers=layers)
    cfg = resolve_experiment(raw, "x.yaml", {}, REPO)
    assert [l.bias for l in cfg.network.layers] == [True, None]
    assert raw["network"]["layers"][0] == {"kind": "dense", "units": 32}   # the caller's dict is untouched
    assert SoftHebbOptions.requires_bias(0, 2, True) and not SoftHebbOptions.requires_bias(1, 2, True)
    raw["network"]["layers"][0]["bias"] = False
    with pytest.raises(ConfigError, match=r"network\.layers\.0\.bias: rule 'softhebb' needs a bias"):
        resolve_experiment(raw, "x.yaml", {}, REPO)


@pytest.mark.parametrize("rule", [{"name": "local", "window": 3}, {"name": "softhebb"},
                                  {"name": "fw_dtp", "beta": 0.2}, {"name": "dfa", "window": "step"}])
def test_stored_config_round_trips(tmp_path, rule):
    layers = [{"kind": "dense", "units": 32}, {"kind": "dense", "units": 4}]
    cfg = tiny_config(rule=rule, network__layers=layers)
    path = tmp_path / "config.yaml"
    path.write_text(cfg.to_yaml())
    again = load_resolved(path)
    assert again == cfg and again.to_dict() == cfg.to_dict()
