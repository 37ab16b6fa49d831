"""The experiment schema (pydantic) and loading experiments with one-line errors.

An experiment file names a network from ``models/`` (``model: mlp_lif``) and may override
any part of it under ``network:``; dictionaries merge key by key, lists are replaced whole.
The resolved experiment, with the full network, is what a run directory stores.
Every section rejects unknown keys, so a typo is an error and never a silent default.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal, Optional, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError
from .yamlio import KeyPath, dump_yaml, line_of, load_yaml, parse_value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- network -------------
class SurrogateConfig(Strict):
    kind: Literal["fast_sigmoid", "sigmoid", "triangle"] = "fast_sigmoid"
    slope: float = Field(10.0, gt=0, description="steepness; fast sigmoid is 1/(slope|V-theta|+1)^2")


class NeuronConfig(Strict):
    kind: Literal["lif", "alif", "relu", "sigmoid", "tanh", "linear"] = "lif"
    tau_syn: float = Field(5e-3, gt=0, description="synaptic time constant (s)")
    tau_mem: float = Field(10e-3, gt=0, description="membrane time constant (s)")
    dt: float = Field(1e-3, gt=0, description="simulation step (s)")
    threshold: float = Field(1.0, gt=0)
    reset: Literal["hard", "subtract"] = "hard"
    surrogate: SurrogateConfig = SurrogateConfig()
    tau_adapt: float = Field(0.2, gt=0, description="alif: time constant of the threshold adaptation (s)")
    adaptation: float = Field(1.8, ge=0, description="alif: threshold rise per unit of adaptation (beta_a)")

    @property
    def spiking(self) -> bool:
        return self.kind in ("lif", "alif")


class LayerConfig(Strict):
    kind: Literal["dense", "conv", "recurrent"]
    units: Optional[int] = Field(None, gt=0, description="dense: number of neurons")
    channels: Optional[int] = Field(None, gt=0, description="conv: output channels")
    kernel: int = Field(3, gt=0)
    stride: int = Field(1, gt=0)
    padding: int = Field(0, ge=0)
    pool: int = Field(1, gt=0, description="sum pooling of the layer's activity (conv only)")
    bias: Optional[bool] = Field(None, description="default: true for rate, false for LIF")
    neuron: Optional[NeuronConfig] = None
    self_connections: bool = Field(True, description="recurrent: keep the diagonal of the recurrent weights")

    @model_validator(mode="after")
    def _sizes(self) -> "LayerConfig":
        if self.kind in ("dense", "recurrent") and self.units is None:
            raise ValueError(f"a {self.kind} layer needs 'units'")
        if self.kind == "recurrent" and self.pool != 1:
            raise ValueError("'pool' applies to conv layers only")
        if self.kind == "conv" and self.channels is None:
            raise ValueError("a conv layer needs 'channels'")
        if self.kind == "dense" and self.pool != 1:
            raise ValueError("'pool' applies to conv layers only")
        return self


class ReadoutConfig(Strict):
    init: Literal["uniform", "normal"] = "uniform"
    scale: float = Field(1.0, gt=0, description="fixed readout G ~ scale * U(-1,1) * sqrt(3/N)")
    output_scale: float = Field(1.0, gt=0, description="gain of the output layer's own loss")


class NetworkConfig(Strict):
    name: str = "network"
    neuron: NeuronConfig = NeuronConfig()
    output_neuron: Optional[NeuronConfig] = Field(
        None, description="neuron of the last layer; default: like 'neuron' (linear for rate nets)"
    )
    layers: list[LayerConfig] = Field(..., min_length=1)
    readout: ReadoutConfig = ReadoutConfig()
    weight_scale: float = Field(1.0, gt=0, description="gain on the default uniform fan-in init")


# ---------------------------------------------------------------- data ----------------
class SyntheticConfig(Strict):
    n_train: int = Field(512, gt=0)
    n_test: int = Field(256, gt=0)
    shape: list[int] = Field([1, 8, 8], min_length=1, max_length=3)
    classes: int = Field(4, ge=2)
    noise: float = Field(0.3, ge=0)


class EventsConfig(Strict):
    """Binning of event recordings (nmnist, dvsgesture, shd) into data.steps frames."""

    window_ms: float = Field(1.0, gt=0, description="width of one time bin (ms)")
    max_duration_ms: Optional[float] = Field(
        None, gt=0, description="recording time kept (ms); default steps * window_ms; if given, "
        "steps must equal ceil(max_duration_ms / window_ms)")
    size: Optional[list[int]] = Field(
        None, min_length=1, max_length=2,
        description="[H, W] after spatial downsampling (SHD: [channels]); default: the sensor's")
    polarity: Literal["split", "merge"] = Field(
        "split", description="split: ON and OFF events as two input channels; merge: one channel")
    binarize: bool = Field(True, description="a bin with any event is one spike (else the count)")
    cache: bool = Field(True, description="keep binned tensors on disk so later loads skip binning")
    cache_dir: Optional[str] = Field(None, description="default: <data root>/<dataset folder>/cache")


class CueAccumulationConfig(Strict):
    """Evidence accumulation (Bellec et al. 2020, Fig. 3; spikelocal.data.tasks)."""

    n_train: int = Field(2000, gt=0)
    n_test: int = Field(500, gt=0)
    seed: int = Field(0, description="the task's own seed: the same samples for every model seed")
    cues: int = Field(7, gt=0, description="cues per trial (odd: no ties)")
    cue_steps: int = Field(10, gt=0, description="steps of one cue burst")
    gap_steps: int = Field(5, ge=0, description="silent steps after each cue")
    delay_steps: int = Field(50, ge=0, description="steps between the last cue and the recall cue")
    recall_steps: int = Field(20, gt=0, description="steps of the recall cue: the answer is read here")
    population: int = Field(10, gt=0, description="input neurons per population (left, right, recall, noise)")
    rate: float = Field(0.4, gt=0, le=1, description="spike probability per step of an active population")
    noise_rate: float = Field(0.05, ge=0, le=1, description="spike probability per step of the noise population")


class DelayedRecallConfig(Strict):
    """A pattern, a delay, then a recall cue: name the pattern (spikelocal.data.tasks)."""

    n_train: int = Field(2000, gt=0)
    n_test: int = Field(500, gt=0)
    seed: int = 0
    classes: int = Field(4, ge=2)
    channels: int = Field(20, gt=0, description="pattern input neurons (a recall population of 5 is added)")
    stimulus_steps: int = Field(20, gt=0)
    delay_steps: int = Field(50, ge=0)
    recall_steps: int = Field(10, gt=0)
    rate: float = Field(0.3, gt=0, le=1, description="spike probability per step of a pattern's active channels")
    noise_rate: float = Field(0.02, ge=0, le=1, description="spike probability per step of every other channel")


class RandmanConfig(Strict):
    """Random manifolds (Zenke & Vogels, Neural Comput. 2021; spikelocal.data.tasks)."""

    samples_per_class: int = Field(500, gt=0, description="train + test samples of each class")
    test_fraction: float = Field(0.2, gt=0, lt=1)
    seed: int = 0
    classes: int = Field(10, ge=2)
    units: int = Field(50, gt=0, description="input neurons (the embedding dimension)")
    manifold_dim: int = Field(1, gt=0, description="intrinsic dimension D of each class's manifold")
    alpha: float = Field(2.0, gt=0, description="smoothness: amplitude of frequency k falls as 1/k^alpha")
    spikes: int = Field(1, gt=0, description="spikes per unit (the manifold is sampled this many times)")


TASKS = ("cue_accumulation", "delayed_recall", "randman")


class DataConfig(Strict):
    dataset: Literal["mnist", "fashion_mnist", "synthetic", "nmnist", "dvsgesture", "shd",
                     "cue_accumulation", "delayed_recall", "randman"] = "mnist"
    root: Optional[str] = Field(None, description="data directory; default $SPIKELOCAL_DATA")
    download: bool = Field(True, description="try the usual download when files are missing")
    encoding: Literal["rate", "latency", "direct"] = "rate"
    steps: int = Field(25, gt=0, description="time steps T (1 for rate networks)")
    gain: float = Field(1.0, gt=0, le=1, description="rate coding: spike probability of a white pixel")
    train_fraction: float = Field(1.0, gt=0, le=1, description="stratified fraction of training data")
    synthetic: SyntheticConfig = SyntheticConfig()
    events: EventsConfig = Field(EventsConfig(), description="event datasets only; data.steps = bins T")
    cue_accumulation: CueAccumulationConfig = CueAccumulationConfig()
    delayed_recall: DelayedRecallConfig = DelayedRecallConfig()
    randman: RandmanConfig = RandmanConfig()


# ---------------------------------------------------------------- training ------------
class ScheduleConfig(Strict):
    kind: Literal["none", "step", "cosine"] = "none"
    step_size: int = Field(1, gt=0, description="step: epochs between decays")
    gamma: float = Field(0.5, gt=0, le=1, description="step: decay factor")


class TrainingConfig(Strict):
    epochs: int = Field(1, gt=0)
    batch_size: int = Field(128, gt=0)
    eval_batch_size: int = Field(1000, gt=0)
    optimizer: Literal["adam", "adamax", "sgd"] = "adam"
    lr: float = Field(1e-3, gt=0)
    momentum: float = Field(0.0, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    schedule: ScheduleConfig = ScheduleConfig()
    time_chunk: int = Field(25, gt=0, description="time steps simulated per batched matrix product")
    threads: Optional[int] = Field(None, gt=0, description="torch threads; default: all cores")
    progress: bool = True
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:[0-9]+)?)$",
                        description="where every tensor of the run lives: auto (CUDA when present), "
                        "cpu, cuda or cuda:N")
    precision: Literal["fp32", "bf16"] = Field(
        "fp32", description="precision of the synaptic matrix products (state and updates stay fp32)")


# ---------------------------------------------------------------- analysis ------------
PlotName = Literal["raster", "rates", "membrane", "rate_hist", "isi", "learning",
                   "time_accuracy", "weights", "angles"]


class RecordConfig(Strict):
    """What to record at the end of chosen epochs (spikelocal.analysis.recording)."""

    samples: int = Field(100, ge=0, description="test samples recorded; 0 turns recording off")
    epochs: Union[Literal["last", "all"], list[int]] = Field("last", description="1-based epochs")
    layers: Optional[list[int]] = Field(None, description="1-based layer numbers; default: every spiking layer")
    variables: list[Literal["spikes", "membrane", "current"]] = ["spikes", "membrane", "current"]


class PlotsConfig(Strict):
    """Figures written into RUN/plots when the run ends (spikelocal.analysis.plots)."""

    what: list[str] = Field(default_factory=list, description="plot names or 'all'; empty: no plots")
    format: list[Literal["png", "svg", "pdf"]] = ["png"]
    report: bool = Field(False, description="also write RUN/report.html")

    @field_validator("what")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        known = (*get_args(PlotName), "all")
        for name in names:
            if name not in known:
                raise ValueError(f"unknown plot {name!r}; known: {', '.join(known)}")
        return names


# ---------------------------------------------------------------- conditions ----------
class PruneConfig(Strict):
    """Global magnitude pruning (spikelocal.conditions; Gupta et al., arXiv 2212.04614).

    The weights of all layers (not biases, not the fixed readouts) are ranked together by
    magnitude and the smallest ``sparsity`` fraction is set to zero, except that every layer
    keeps at least its ``min_per_layer`` fraction of largest weights. ``after``: the trained
    network is pruned once at the end and evaluated (summary ``pruned_test_accuracy``); the
    checkpoint keeps the unpruned weights. ``retrain``: the network is pruned at the end of
    epoch ``training.epochs - retrain_epochs`` and the last ``retrain_epochs`` epochs train on
    with the same rule while the pruned weights are held at zero after every step.
    """

    sparsity: float = Field(0.0, ge=0, lt=1, description="fraction of all weights removed; 0: off")
    mode: Literal["after", "retrain"] = "after"
    retrain_epochs: int = Field(1, ge=1, description="retrain: epochs trained after pruning (within training.epochs)")
    min_per_layer: float = Field(0.01, ge=0, le=1, description="fraction of each layer's weights always kept")


class NoiseConfig(Strict):
    """Input noise at test time (spikelocal.conditions); training data stay clean.

    ``gaussian``: pixels x in [0, 1] become clip(x + sigma * N(0, 1), 0, 1) before encoding
    (pixel datasets). For spike inputs (rate or latency encoding, or recorded events): each input spike is
    deleted with probability ``spike_deletion``; each input (neuron, step) without a spike gets
    one with probability ``spike_insertion``; each spike moves by a uniform integer offset in
    [-jitter, jitter] steps, clipped to [0, T-1] (spikes landing on one step merge).
    """

    gaussian: float = Field(0.0, ge=0, description="std of Gaussian pixel noise; 0: off")
    spike_deletion: float = Field(0.0, ge=0, le=1, description="probability that an input spike is removed")
    spike_insertion: float = Field(0.0, ge=0, le=1, description="probability of a spurious input spike per neuron and step")
    jitter: int = Field(0, ge=0, description="largest shift of an input spike, in time steps")

    @property
    def active(self) -> bool:
        return bool(self.gaussian or self.spike_deletion or self.spike_insertion or self.jitter)

    @property
    def spike_noise(self) -> bool:
        return bool(self.spike_deletion or self.spike_insertion or self.jitter)


# ---------------------------------------------------------------- diagnostics ---------
class DiagnosticsConfig(Strict):
    """Per-epoch alignment with backprop (spikelocal.diagnostics; Lillicrap et al. 2016).

    On one fixed training batch, the angle between each layer's update under the run's rule
    and the backprop (BPTT) gradient of the output loss; for fa and sign_symmetry also the
    angle between each feedback matrix and its forward weights. Costs one extra forward and
    backward pass on that batch per epoch.
    """

    alignment: bool = Field(False, description="log layer<i>_angle_bp (and _angle_fb_w) every epoch")
    batch_size: int = Field(256, gt=0, description="samples of the fixed batch (the first of the training set)")


class ExperimentConfig(Strict):
    name: Optional[str] = None
    seed: int = 0
    model: Optional[str] = Field(None, description="a network in models/ (name or path)")
    network: NetworkConfig
    data: DataConfig = DataConfig()
    training: TrainingConfig = TrainingConfig()
    rule: dict[str, Any] = Field(default_factory=lambda: {"name": "local"})
    record: Optional[RecordConfig] = None
    plots: PlotsConfig = PlotsConfig()
    prune: PruneConfig = PruneConfig()
    diagnostics: DiagnosticsConfig = DiagnosticsConfig()
    noise: NoiseConfig = NoiseConfig()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return dump_yaml(self.to_dict())


# ---------------------------------------------------------------- loading -------------
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


def _format_error(exc: ValidationError, where: list[tuple[str, dict[KeyPath, int], KeyPath]]) -> str:
    """One line naming the file, line, key and what is accepted, for the first error."""
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    key = ".".join(str(p) for p in loc) or "(top level)"
    source, line = where[-1][0], None
    for src, lines, prefix in where:
        if loc[: len(prefix)] == prefix and loc[len(prefix):] in lines:
            source, line = src, lines[loc[len(prefix):]]
            break
    if line is None:
        src, lines, prefix = where[0]
        source, line = src, line_of(lines, loc)
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
        parent = exc.title
        msg += f" (not part of {parent})" if parent else ""
    elif err["type"] == "literal_error":
        msg = f"got {err.get('input')!r}; {msg[0].lower()}{msg[1:]}"
    elif "input" in err and not isinstance(err["input"], (dict, list)):
        msg = f"{msg} (got {err['input']!r})"
    more = len(exc.errors()) - 1
    tail = f" (and {more} more)" if more else ""
    where_txt = f"{source}:{line}" if line else source
    return f"{where_txt}: {key}: {msg}{tail}"


def _validate_rule(config: ExperimentConfig, source: str, lines: dict[KeyPath, int]) -> None:
    from .rules import RULES

    rule = dict(config.rule)
    name = rule.get("name", "local")
    if name not in RULES:
        raise ConfigError(
            f"{source}:{line_of(lines, ('rule', 'name')) or '?'}: rule.name: unknown rule "
            f"{name!r}; known: {', '.join(RULES.names())}"
        )
    rule_cls = RULES.get(name)
    options_model = rule_cls.Options
    try:
        options = options_model.model_validate(rule)
    except ValidationError as exc:
        msg = _format_error(exc, [(source, lines, ("rule",))]).replace(": ", ": rule.", 1)
        if exc.errors()[0]["type"] == "extra_forbidden":
            msg += f"; rule {name!r} takes: {', '.join(options_model.model_fields)}"
        raise ConfigError(msg) from None
    config.rule = options.model_dump(mode="json")
    layers = config.network.layers
    where = f"{source}:{line_of(lines, ('rule', 'name')) or '?'}"
    for i, layer in enumerate(layers):
        last = config.network.output_neuron if i == len(layers) - 1 else None
        family = "spiking" if (layer.neuron or last or config.network.neuron).spiking else "rate"
        for need in (layer.kind, family):
            if need not in rule_cls.supports:
                raise ConfigError(
                    f"{where}: rule.name: rule {name!r} cannot train network.layers.{i} ({need}); "
                    f"it trains: {', '.join(rule_cls.supports)}")
        if rule_cls.requires_bias(i, len(layers), family == "spiking"):
            if layer.bias is False:
                raise ConfigError(f"{where}: network.layers.{i}.bias: rule {name!r} needs a bias on this "
                                  f"layer (remove `bias: false` or set it true)")
            layer.bias = True


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
    try:
        config = ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc, where)) from None
    _validate_rule(config, source, lines)
    check_consistency(config, source)
    return config


def check_consistency(config: ExperimentConfig, source: str) -> None:
    """Cross-section checks that no single field can make."""
    spiking = any(
        (layer.neuron or config.network.neuron).spiking for layer in config.network.layers
    )
    if config.data.dataset in ("nmnist", "dvsgesture", "shd"):
        from .data.events import check_event_config

        check_event_config(config.data, source, spiking)
    elif config.data.dataset in TASKS:
        from .data.tasks import check_task_config

        check_task_config(config.data, source)
    elif not spiking and config.data.steps != 1 and config.data.encoding != "direct":
        raise ConfigError(
            f"{source}: data.encoding: {config.data.encoding!r} makes spikes, but the network "
            "has no spiking layer; use encoding: direct with steps: 1 for a rate network"
        )
    if config.noise.gaussian and config.data.dataset in ("nmnist", "dvsgesture", "shd"):
        raise ConfigError(f"{source}: noise.gaussian: {config.data.dataset} holds events, not pixels; use "
                          "noise.spike_deletion, spike_insertion or jitter")
    if config.noise.spike_noise and config.data.encoding == "direct" and \
            config.data.dataset in ("mnist", "fashion_mnist", "synthetic"):
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
    if config.name is None:
        config.name = path.stem
    return config


def load_resolved(path: str | Path) -> ExperimentConfig:
    """Load the resolved config a run directory stores (full network, no model lookup)."""
    path = Path(path)
    raw, lines = load_yaml(path)
    return resolve_experiment(raw or {}, str(path), lines, path.parent, merge_model=False)
