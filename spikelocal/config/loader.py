"""Loading experiments: model lookup, ``--set`` overrides, validation with one-line errors.

An experiment file names a network from ``models/`` (``model: mlp_lif``) and may override
any part of it under ``network:``; dictionaries merge key by key, lists are replaced whole.
The resolved experiment, with the full network, is what a run directory stores.

Validation is a pure construction: everything a rule implies (a bias it needs on a layer)
is written into the input dict before the final ``model_validate``, so a validated config
is never changed afterwards and no validator has side effects.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Optional

from pydantic import ValidationError

from ..errors import ConfigError
from ..yamlio import KeyPath, line_of, load_yaml, parse_value
from .data import TASKS
from .datasets import EVENT_DATASETS, PIXEL_DATASETS, check_event_config, check_task_config
from .experiment import ExperimentConfig
from .messages import Where, format_validation_error
from .rules import RULE_OPTIONS


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``: dicts key by key, anything else replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` (list items by index: ``network.layers.0.units``) in nested data."""
    parts = dotted.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node = node[_index(part, dotted, node)]
            continue
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, (dict, list)):
            raise ConfigError(f"--set {dotted}: '{'.'.join(parts[:i + 1])}' is not a section")
        node = nxt
    last = parts[-1]
    if isinstance(node, list):
        node[_index(last, dotted, node)] = value
    else:
        node[last] = value


def _index(part: str, dotted: str, node: list[Any]) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"--set {dotted}: '{part}' is not an index of a list of {len(node)}")
    return int(part)


def parse_overrides(items: list[str]) -> list[tuple[str, Any]]:
    out = []
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected dotted.key=value")
        key, _, text = item.partition("=")
        out.append((key.strip(), parse_value(text)))
    return out


def _find_model(name: str, experiment_path: Path) -> Path:
    candidates = [Path(name), experiment_path.parent / name]
    stem = name if name.endswith((".yaml", ".yml")) else f"{name}.yaml"
    for base in (experiment_path.parent, experiment_path.parent.parent, Path.cwd()):
        candidates.append(base / "models" / stem)
    for path in candidates:
        if path.is_file():
            return path
    raise ConfigError(
        f"{experiment_path}: model {name!r} not found (looked for models/{stem} next to the "
        "experiment and in the working directory)"
    )


def _rule_key_path(loc: KeyPath) -> KeyPath:
    """Drop the union's tag from a rule error's location: ('rule', 'local', 'lrr') -> ('rule', 'lrr')."""
    if len(loc) > 1 and loc[0] == "rule" and loc[1] in RULE_OPTIONS:
        return (loc[0], *loc[2:])
    return loc


def _validate(raw: dict[str, Any], where: Where, overrides: list[str]) -> ExperimentConfig:
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        message = _message(exc, raw, where)
        err = exc.errors()[0]
        loc = ("rule", "name") if err["type"].startswith("union_tag") else _rule_key_path(tuple(err["loc"]))
        item = _override_for(loc, overrides)
        if item is not None:  # the value came from the command line, not from a line of the file
            message = f"{where[0][0]}: override --set {item}: {message.split(': ', 1)[1]}"
        raise ConfigError(message) from None


def _override_for(loc: KeyPath, overrides: list[str]) -> Optional[str]:
    """The ``--set`` item that set the key at ``loc`` (or a section holding it), if any."""
    path = tuple(str(p) for p in loc)
    for item in reversed(overrides):   # the last --set of a key is the one that counts
        parts = tuple(item.partition("=")[0].strip().split("."))
        if path[:len(parts)] == parts:
            return item
    return None


def _message(exc: ValidationError, raw: dict[str, Any], where: Where) -> str:
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    if loc[:1] != ("rule",):
        return format_validation_error(exc, where)
    source, lines, _ = where[0]
    rule = raw.get("rule")
    if err["type"] == "union_tag_invalid":
        return (f"{source}:{line_of(lines, ('rule', 'name')) or '?'}: rule.name: unknown rule "
                f"{rule.get('name')!r}; known: {', '.join(sorted(RULE_OPTIONS))}")
    if err["type"] == "union_tag_not_found" or not isinstance(rule, dict):
        return f"{source}:{line_of(lines, ('rule',)) or '?'}: rule: expected a mapping with 'name' (a rule)"
    name = rule.get("name", "local")
    takes = f"; rule {name!r} takes: {', '.join(RULE_OPTIONS[name].model_fields)}"
    return format_validation_error(exc, where, unknown=takes, key_path=_rule_key_path)


def _with_required_biases(config: ExperimentConfig, raw: dict[str, Any], where: str) -> dict[str, Any]:
    """Check the network against the rule; return ``raw`` with an unset ``bias`` turned on
    where the rule needs one (a new dict), or ``raw`` itself when nothing changes."""
    options = type(config.rule)
    name = config.rule.name
    layers = config.network.layers
    need: list[int] = []
    for i, layer in enumerate(layers):
        last = config.network.output_neuron if i == len(layers) - 1 else None
        family = "spiking" if (layer.neuron or last or config.network.neuron).spiking else "rate"
        for kind in (layer.kind, family):
            if kind not in options.supports:
                raise ConfigError(
                    f"{where}: rule.name: rule {name!r} cannot train network.layers.{i} ({kind}); "
                    f"it trains: {', '.join(options.supports)}")
        if options.requires_bias(i, len(layers), family == "spiking"):
            if layer.bias is False:
                raise ConfigError(f"{where}: network.layers.{i}.bias: rule {name!r} needs a bias on this "
                                  f"layer (remove `bias: false` or set it true)")
            if layer.bias is None:
                need.append(i)
    if not need:
        return raw
    out = copy.deepcopy(raw)
    for i in need:
        out["network"]["layers"][i]["bias"] = True
    return out


def resolve_experiment(
    raw: dict[str, Any], source: str, lines: dict[KeyPath, int], base_dir: Path,
    overrides: list[str] | None = None, merge_model: bool = True,
) -> ExperimentConfig:
    """Validate an experiment dict: merge its model, apply ``--set``, check every section."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level")
    raw = copy.deepcopy(raw)
    parsed = parse_overrides(overrides or [])
    network_sets = [(k, v) for k, v in parsed if k.split(".")[0] == "network"]
    for key, value in parsed:
        if key.split(".")[0] != "network":
            set_dotted(raw, key, value)
    where = [(source, lines, ())]
    model_name = raw.get("model")
    if model_name is not None and merge_model:
        if not isinstance(model_name, str):
            raise ConfigError(f"{source}:{line_of(lines, ('model',))}: model: expected a name or path")
        model_path = _find_model(model_name, base_dir / "x.yaml")
        model_raw, model_lines = load_yaml(model_path)
        if not isinstance(model_raw, dict):
            raise ConfigError(f"{model_path}: expected a mapping of keys at the top level")
        overrides_net = raw.get("network") or {}
        if not isinstance(overrides_net, dict):
            raise ConfigError(f"{source}:{line_of(lines, ('network',))}: network: expected a mapping")
        raw["network"] = deep_merge(model_raw, overrides_net)
        where = [(source, lines, ()), (str(model_path), model_lines, ("network",))]
    if "network" not in raw:
        raise ConfigError(f"{source}: name a network with 'model: NAME' (from models/) or give 'network:'")
    for key, value in network_sets:  # after the merge, so list items of the model can be set
        set_dotted(raw, key, value)
    config = _validate(raw, where, overrides or [])
    biased = _with_required_biases(config, raw, f"{source}:{line_of(lines, ('rule', 'name')) or '?'}")
    if biased is not raw:
        config = _validate(biased, where, overrides or [])
    check_consistency(config, source)
    return config


def check_consistency(config: ExperimentConfig, source: str) -> None:
    """Cross-section checks that no single field can make."""
    spiking = any(
        (layer.neuron or config.network.neuron).spiking for layer in config.network.layers
    )
    if config.data.dataset in EVENT_DATASETS:
        check_event_config(config.data, source, spiking)
    elif config.data.dataset in TASKS:
        check_task_config(config.data, source)
    elif not spiking and config.data.steps != 1 and config.data.encoding != "direct":
        raise ConfigError(
            f"{source}: data.encoding: {config.data.encoding!r} makes spikes, but the network "
            "has no spiking layer; use encoding: direct with steps: 1 for a rate network"
        )
    if config.noise.gaussian and config.data.dataset in EVENT_DATASETS:
        raise ConfigError(f"{source}: noise.gaussian: {config.data.dataset} holds events, not pixels; use "
                          "noise.spike_deletion, spike_insertion or jitter")
    if config.noise.spike_noise and config.data.encoding == "direct" and \
            config.data.dataset in (*PIXEL_DATASETS, "synthetic"):
        raise ConfigError(f"{source}: noise: spike deletion, insertion and jitter need spike inputs "
                          "(data.encoding rate or latency); use noise.gaussian for analog inputs")
    if config.prune.sparsity and config.prune.mode == "retrain" and \
            config.prune.retrain_epochs >= config.training.epochs:
        raise ConfigError(f"{source}: prune.retrain_epochs: {config.prune.retrain_epochs} leaves no epoch "
                          f"before pruning; it must be below training.epochs ({config.training.epochs})")
    if config.record is not None:
        n = len(config.network.layers)
        bad = [l for l in (config.record.layers or []) if not 1 <= l <= n]
        if bad:
            raise ConfigError(f"{source}: record.layers: layer {bad[0]} does not exist; layers are 1..{n}")
        epochs = config.record.epochs if isinstance(config.record.epochs, list) else []
        late = [e for e in epochs if not 1 <= e <= config.training.epochs]
        if late:
            raise ConfigError(f"{source}: record.epochs: epoch {late[0]} is not run; epochs are "
                              f"1..{config.training.epochs} (or 'last', 'all')")


def load_experiment(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """Load an experiment file (with its model and ``--set`` overrides) into the schema."""
    path = Path(path)
    raw, lines = load_yaml(path)
    config = resolve_experiment(raw, str(path), lines, path.parent, overrides)
    return config if config.name is not None else config.model_copy(update={"name": path.stem})


def load_resolved(path: str | Path) -> ExperimentConfig:
    """Load the resolved config a run directory stores (full network, no model lookup)."""
    path = Path(path)
    raw, lines = load_yaml(path)
    return resolve_experiment(raw or {}, str(path), lines, path.parent, merge_model=False)
