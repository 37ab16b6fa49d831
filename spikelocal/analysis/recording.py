"""Recording spikes, membrane potential and synaptic current of a few test samples.

The recorded samples are the first ``samples`` images of the test set, encoded exactly as
:func:`spikelocal.trainer.evaluate` encodes them (same generator per evaluation batch, same
time chunks) through the same core loop (:mod:`spikelocal.core.simulate`), so a recording
shows what the logged test accuracy saw; the records give the spikes, the membrane before
the reset and the synaptic current ``I[t]`` the membrane integrates. A run without a
``record:`` section does no recording work at all.

HDF5 layout (one file per recorded epoch, ``RUN/recordings/epoch_003.h5``)::

    /                      attrs: format = "spikelocal-recording", format_version = 1,
                                  spikelocal_version, epoch, dt (s), steps (T), samples (N),
                                  encoding, classes (class names), name (the run's name)
    /labels                int64   [N]        true class of each sample
    /sample_index          int64   [N]        index of each sample in the test set
    /input_spikes          uint8   [N, T, D]  encoded input (float32 for encoding: direct)
    /readout_accuracy      float32 [L, T]     accuracy of layer l's fixed readout on the
                                              activity summed over steps 0..t, over the first
                                              evaluation batch (attr ``samples``: its size)
    /layer{l}/             attrs: neurons, neuron_shape, threshold, tau_syn (s), tau_mem (s),
                                  reset, kind  (l is 1-based, as in metrics.csv)
    /layer{l}/spikes       uint8   [N, T, n]  1 where neuron n fired at step t
    /layer{l}/membrane     float32 [N, T, n]  V[t] before the reset; dimensionless, in the
                                              units of ``threshold`` (a spike when V > threshold)
    /layer{l}/current      float32 [N, T, n]  synaptic current I[t]; dimensionless (added to V
                                              once per step, see spikelocal.core.neurons)
    /layer{l}/adaptation   float32 [N, T, n]  ALIF layers only: the adaptation a[t] (the
                                              threshold is threshold + adaptation * a[t-1];
                                              an ALIF's ``membrane`` is V - adaptation * a[t-1])

Neurons of conv layers are flattened in (channel, row, column) order (``neuron_shape``).
Step t covers the time [t dt, (t + 1) dt).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .. import seeds
from ..version import __version__
from ..config import ExperimentConfig
from ..data import batch_generator, encode
from ..errors import ConfigError, RunDirError
from ..core.network import Network
from ..core.simulate import Simulator, Want

FORMAT = "spikelocal-recording"
FORMAT_VERSION = 1
VARIABLES = ("spikes", "membrane", "current", "adaptation")
RECORDINGS = "recordings"


@dataclass
class LayerRecording:
    """Traces of one layer: arrays [N, T, n] (absent variables are None)."""

    index: int                       # 1-based layer number
    spikes: Optional[np.ndarray]
    membrane: Optional[np.ndarray]
    current: Optional[np.ndarray]
    adaptation: Optional[np.ndarray]     # ALIF layers only
    threshold: float
    neuron_shape: tuple[int, ...]
    attrs: dict = field(default_factory=dict)

    @property
    def neurons(self) -> int:
        return int(np.prod(self.neuron_shape))


@dataclass
class Recording:
    """A recording in memory; :func:`save_recording` / :func:`load_recording` map it to HDF5."""

    epoch: int
    dt: float
    labels: np.ndarray               # [N]
    sample_index: np.ndarray         # [N]
    inputs: np.ndarray               # [N, T, D]
    readout_accuracy: np.ndarray     # [L, T]
    accuracy_samples: int
    layers: dict[int, LayerRecording]
    classes: list[str]
    encoding: str
    name: str = ""

    @property
    def steps(self) -> int:
        return int(self.readout_accuracy.shape[1])

    def layer(self, index: int) -> LayerRecording:
        if index not in self.layers:
            raise ConfigError(f"layer {index} was not recorded; recorded layers: "
                              f"{', '.join(map(str, sorted(self.layers))) or 'none'}")
        return self.layers[index]


def recorded_layers(config: ExperimentConfig, net: Network, layers: Optional[list[int]]) -> list[int]:
    """The 1-based layers to record: those asked for (each must exist and spike) or all spiking."""
    n = len(net.layers)
    if layers is None:
        chosen = [i + 1 for i, layer in enumerate(net.layers) if layer.neuron.spiking]
        if not chosen:
            raise ConfigError("record: the network has no spiking layer to record")
        return chosen
    for l in layers:
        if not 1 <= l <= n:
            raise ConfigError(f"record.layers: layer {l} does not exist; layers are 1..{n}")
        if not net.layers[l - 1].neuron.spiking:
            raise ConfigError(f"record.layers: layer {l} is not spiking "
                              f"({net.layers[l - 1].neuron_cfg.kind}); record spiking layers only")
    return sorted(set(layers))


@torch.no_grad()
def record(net: Network, config: ExperimentConfig, test_x: torch.Tensor, test_y: torch.Tensor,
           samples: int, layers: Optional[list[int]] = None,
           variables: tuple[str, ...] | list[str] = VARIABLES, epoch: int = 0,
           classes: Optional[list[str]] = None) -> Recording:
    """Record ``samples`` test samples of ``net``, step by step (see the module docstring)."""
    chosen = recorded_layers(config, net, layers)
    unknown = [v for v in variables if v not in VARIABLES]
    if unknown:
        raise ConfigError(f"record.variables: unknown {unknown[0]!r}; known: {', '.join(VARIABLES)}")
    n_total = len(test_x)
    samples = min(samples, n_total)
    bs = config.training.eval_batch_size
    # The first evaluation batch always runs (readout accuracy per step); more batches only
    # when more samples are recorded than one evaluation batch holds.
    n_batches = max(1, -(-samples // bs))
    acc_correct: Optional[np.ndarray] = None
    acc_count = 0
    traces: dict[int, dict[str, list[np.ndarray]]] = {l: {v: [] for v in variables} for l in chosen}
    inputs: list[np.ndarray] = []
    for b in range(n_batches):
        x = test_x[b * bs:(b + 1) * bs]
        y = test_y[b * bs:(b + 1) * bs]
        gen = batch_generator(config.seed + seeds.TEST_ENCODING, 0, b)
        chunks = list(encode(config, x, gen))
        keep = min(len(x), samples - b * bs)
        full = torch.cat(chunks, 0)                      # [T, B, *in]
        steps = full.shape[0]
        if keep > 0:
            inputs.append(full[:, :keep].reshape(steps, keep, -1).transpose(0, 1).numpy())
        # the readout accuracy per step uses the whole first batch; traces only `keep` samples
        run_b = len(x) if b == 0 else keep
        step_out = _run_steps(net, chunks, run_b, chosen, variables, keep)
        if b == 0:
            acc_correct, acc_count = _accuracy_by_step(step_out["scores"], y[:run_b])
        for l in chosen:
            for v in variables:
                if v in step_out["traces"][l]:
                    traces[l][v].append(step_out["traces"][l][v])
    layer_recs = {}
    for l in chosen:
        layer = net.layers[l - 1]
        ncfg = layer.neuron_cfg
        arrays = {v: np.concatenate(traces[l][v], 0) if v in variables and traces[l][v] else None
                  for v in VARIABLES}
        layer_recs[l] = LayerRecording(
            l, arrays["spikes"], arrays["membrane"], arrays["current"], arrays["adaptation"], float(ncfg.threshold),
            tuple(layer.out_shape),
            {"tau_syn": ncfg.tau_syn, "tau_mem": ncfg.tau_mem, "reset": ncfg.reset, "kind": ncfg.kind})
    dt = float(config.network.neuron.dt)
    input_arr = np.concatenate(inputs, 0) if inputs else np.zeros((0, steps, 0), np.float32)
    spiking_input = bool(np.isin(input_arr, (0.0, 1.0)).all())
    return Recording(
        epoch=epoch, dt=dt, labels=np.asarray(test_y[:samples]).astype(np.int64),
        sample_index=np.arange(samples, dtype=np.int64),
        inputs=input_arr.astype(np.uint8 if spiking_input else np.float32),
        readout_accuracy=(acc_correct / max(acc_count, 1)).astype(np.float32),
        accuracy_samples=acc_count, layers=layer_recs,
        classes=classes or [str(c) for c in range(net.num_classes)],
        encoding=config.data.encoding, name=config.name or "")


def _run_steps(net: Network, chunks: list[torch.Tensor], run_b: int, chosen: list[int], variables,
               keep: int) -> dict:
    """Run the chunks through the core loop; return every layer's readout scores per step and
    the chosen layers' traces of the first ``keep`` samples."""
    sim = Simulator(net.layers, Want(membrane="membrane" in variables, current="current" in variables,
                                     adaptation="adaptation" in variables, scores=True))
    state = sim.start(run_b)
    scores: list[list[torch.Tensor]] = [[] for _ in net.layers]
    per_step: dict[int, dict[str, list[torch.Tensor]]] = {l: {v: [] for v in variables} for l in chosen}
    for x in chunks:
        for i, rec in enumerate(sim.run(x[:, :run_b], state)):
            scores[i].append(rec.scores)
            out = per_step.get(i + 1)
            if out is None:
                continue
            k = rec.output.shape[0]
            sources = {"spikes": rec.output, "membrane": rec.membrane, "current": rec.current,
                       "adaptation": rec.adaptation}
            for v in variables:
                if sources[v] is None:   # adaptation of a layer without it
                    continue
                values = sources[v][:, :keep].reshape(k, keep, -1)
                out[v].extend((values.to(torch.uint8) if v == "spikes" else values).unbind(0))
    traces = {l: {v: torch.stack(vals, 1).numpy() for v, vals in per.items() if vals}
              for l, per in per_step.items()}
    return {"scores": [torch.cat(s) for s in scores], "traces": traces}


def _accuracy_by_step(scores: list[torch.Tensor], y: torch.Tensor) -> tuple[np.ndarray, int]:
    """Correct counts [L, T] of each readout on the activity summed over steps 0..t."""
    out = np.zeros((len(scores), scores[0].shape[0]))
    for i, logits in enumerate(scores):                              # [T, B, C]
        out[i] = (logits.cumsum(0).argmax(-1) == y.unsqueeze(0)).sum(1).numpy()
    return out, len(y)


# ------------------------------------------------------------------ files -----------------
def recording_path(run_dir: Path, epoch: int) -> Path:
    return Path(run_dir) / RECORDINGS / f"epoch_{epoch:03d}.h5"


def save_recording(rec: Recording, path: Path) -> Path:
    """Write ``rec`` to HDF5 atomically (a temporary file renamed into place)."""
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o644)
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs.update({"format": FORMAT, "format_version": FORMAT_VERSION,
                            "spikelocal_version": __version__, "epoch": rec.epoch, "dt": rec.dt,
                            "steps": rec.inputs.shape[1], "samples": len(rec.labels),
                            "encoding": rec.encoding, "classes": list(rec.classes), "name": rec.name})
            f.create_dataset("labels", data=rec.labels)
            f.create_dataset("sample_index", data=rec.sample_index)
            ds = f.create_dataset("input_spikes", data=rec.inputs, compression="gzip", compression_opts=1)
            ds.attrs["units"] = "spike (0/1) per step" if rec.inputs.dtype == np.uint8 else "input current"
            ds = f.create_dataset("readout_accuracy", data=rec.readout_accuracy)
            ds.attrs.update({"samples": rec.accuracy_samples, "units": "fraction correct"})
            for l, layer in rec.layers.items():
                g = f.create_group(f"layer{l}")
                g.attrs.update({"neurons": layer.neurons, "neuron_shape": list(layer.neuron_shape),
                                "threshold": layer.threshold, **layer.attrs})
                for name, units in (("spikes", "spike (0/1) per step"),
                                    ("membrane", "dimensionless, threshold units (V before reset)"),
                                    ("current", "dimensionless, added to V per step"),
                                    ("adaptation", "spikes, low-pass filtered with tau_adapt")):
                    arr = getattr(layer, name)
                    if arr is not None:
                        # spikes compress ~10x; floats barely, and gzip would cost more time than
                        # the recording itself
                        packed = {"compression": "gzip", "compression_opts": 1} if name == "spikes" else {}
                        d = g.create_dataset(name, data=arr, **packed)
                        d.attrs["units"] = units
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_recording(path: Path) -> Recording:
    """Read a recording written by :func:`save_recording`; a foreign file is a RunDirError."""
    import h5py

    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        raise RunDirError(f"{path}: no such recording") from None
    except OSError as exc:
        raise RunDirError(f"{path}: not a readable HDF5 recording ({exc})") from None
    with f:
        if f.attrs.get("format") != FORMAT:
            raise RunDirError(f"{path}: not a spikelocal recording")
        if int(f.attrs.get("format_version", -1)) != FORMAT_VERSION:
            raise RunDirError(f"{path}: recording format {f.attrs.get('format_version')}, "
                              f"this spikelocal reads format {FORMAT_VERSION}; record the run again")
        layers = {}
        for key in f:
            if not key.startswith("layer"):
                continue
            g = f[key]
            l = int(key[5:])
            extra = {k: (v.item() if hasattr(v, "item") else v) for k, v in g.attrs.items()
                     if k not in ("neurons", "neuron_shape", "threshold")}
            layers[l] = LayerRecording(
                l, *(g[v][()] if v in g else None for v in VARIABLES), float(g.attrs["threshold"]),
                tuple(int(s) for s in g.attrs["neuron_shape"]), extra)
        return Recording(
            epoch=int(f.attrs["epoch"]), dt=float(f.attrs["dt"]), labels=f["labels"][()],
            sample_index=f["sample_index"][()], inputs=f["input_spikes"][()],
            readout_accuracy=f["readout_accuracy"][()],
            accuracy_samples=int(f["readout_accuracy"].attrs["samples"]),
            layers=dict(sorted(layers.items())), classes=[str(c) for c in f.attrs["classes"]],
            encoding=str(f.attrs["encoding"]), name=str(f.attrs["name"]))


def latest_recording(run_dir: Path) -> Optional[Path]:
    """The recording of the latest epoch in ``RUN/recordings``, or None."""
    files = sorted((Path(run_dir) / RECORDINGS).glob("epoch_*.h5"))
    return files[-1] if files else None
