"""NIR graphs that a given reader's own importer runs with spikelocal's spike counts.

NIR stores continuous equations and no time step, and every reader discretises them its own
way. The readers that lead to chips pin ``nir<=1.0.4`` (whose neurons have no ``v_reset`` and
reset by subtraction) and map only part of NIR. A *portable* export therefore writes, for one
named reader, a graph of the nodes that reader maps, with the parameters chosen so that the
reader's discretisation reproduces spikelocal's update, in the HDF5 layout nir 1.0.4 reads.

spikelocal's neuron (``spikelocal.core.neurons``), with the reset by subtraction::

    I[t] = alpha I[t-1] + W s[t];   V[t] = beta V[t-1] + I[t] + b;   V -= theta where V > theta

Sinabs 3.1 (``sinabs.from_nir(graph, batch_size=B)``): ``Affine`` -> ``nn.Linear``, ``LIF``
-> ``LIFSqueeze(tau_mem=tau, norm_input=False)``; no ``CubaLIF`` or ``Linear``. Per step
``v = exp(-1/tau) v + x`` (exponential decay, tau counted in steps, input unscaled, ``r``
ignored, ``v_leak`` must be 0), spikes ``floor(v / theta)`` (MultiSpike), reset by
subtraction. Written: ``Affine(W, b)`` then ``LIF(tau = -1/ln beta, r = tau, v_leak = 0,
v_threshold = theta)``; with time counted in steps (dt = 1) and the input spikes as impulses
this is also the exact solution of NIR's LIF equation. Needs alpha = 0 (no synaptic filter).

Rockpool 3.1 (``rockpool.nn.modules.torch.nir.from_nir(graph)``): ``Linear``/``Affine`` ->
``LinearTorch``, ``CubaLIF`` -> ``LIFTorch``; no ``Flatten`` or convolutions, and its ``LIF``
branch reads a ``tau_mem`` that NIR's LIF does not have. It takes dt = min(tau_mem / (1 + r))
and per step ``i = a (i + x)``, ``v = exp(-dt/tau_mem) v + i + v_leak`` with
``a = exp(-dt/tau_syn)`` (exponential decay, the input enters the synaptic state before its
decay), spikes ``floor(v / theta)``, reset by subtraction. Written: ``Linear(W / a)`` and
``CubaLIF(tau_syn, tau_mem, r = tau_mem/dt - 1, v_leak = b, v_threshold = theta, w_in = 1)``
with ``a = alpha`` (tau_syn as trained), or, without a synaptic filter (alpha = 0), a = 2**-30,
so that ``i = W s[t] + 2**-30 W s[t-1] + ...`` equals ``W s[t]`` to float32 precision.

Both readers' importers build neurons that emit several spikes in one step where V reaches
2 theta; spikelocal emits one. NIR has no field for it, so the file's ``metadata["load"]``
names the reader's own one-line setting (Sinabs ``SingleSpike``, Rockpool
``max_spikes_per_dt = 1``); ``bench/nir_readers.py`` measures both ways.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..version import __version__
from ..core.network import Network
from ..errors import ExportError
from .common import atomic_output, layer_name
from .nir_version import require_nir
import torch

PRESET = "experiments/quickstart_portable.yaml"
DEFAULT_PRESET = "experiments/quickstart.yaml"
ROCKPOOL_NO_FILTER_DECAY = 2.0 ** -30   # the synaptic decay Rockpool gets when alpha = 0

# What nir <= 1.0.4 accepts in a node group (its from_dict passes every key to the dataclass).
LEGACY_KEYS: dict[str, set[str]] = {
    "NIRGraph": {"type", "nodes", "edges", "metadata"},
    "Input": {"type", "shape"},
    "Output": {"type", "shape"},
    "Affine": {"type", "weight", "bias", "metadata"},
    "Linear": {"type", "weight"},
    "LIF": {"type", "tau", "r", "v_leak", "v_threshold", "metadata"},
    "CubaLIF": {"type", "tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "w_in", "metadata"},
    "Flatten": {"type", "start_dim", "end_dim", "input_type", "metadata"},
    "Conv2d": {"type", "input_shape", "weight", "stride", "padding", "dilation", "groups", "bias",
               "metadata"},
    "SumPool2d": {"type", "kernel_size", "stride", "padding", "metadata"},
}


@dataclass(frozen=True)
class Reader:
    """One NIR reader: how to call it and the conventions its importer uses."""

    name: str
    importer: str
    nir: str
    decay: str
    input: str
    dt: str
    spikes: str
    single: str                         # the reader's own setting for one spike per step
    build: Callable[[Network, float], object]


def _check(net: Network, reader: str, conv_ok: bool, filter_ok: bool) -> None:
    """One-line refusal, naming the preset that can, for what ``reader`` cannot express."""
    for i, layer in enumerate(net.layers):
        name = layer_name(i)
        if layer.neuron_cfg.kind != "lif":
            raise ExportError(f"{name}: {reader}'s NIR importer has no {layer.neuron_cfg.kind!r} (rate) neuron; "
                              f"train spiking layers only ({PRESET})")
        if layer.neuron.hard_reset:
            raise ExportError(f"{name}: a hard reset cannot be expressed for {reader} (nir<=1.0.4 neurons reset "
                              f"by subtraction); train with neuron.reset: subtract ({PRESET})")
        if layer.kind != "dense" and not conv_ok:
            raise ExportError(f"{name}: {reader}'s from_nir maps no Conv2d or Flatten; train dense layers "
                              f"only ({PRESET})")
        if layer.neuron.alpha != 0.0 and not filter_ok:
            raise ExportError(f"{name}: {reader}'s from_nir maps no CubaLIF, so a synaptic filter (alpha="
                              f"{layer.neuron.alpha:.4g}) cannot be expressed; train with tau_syn far below dt "
                              f"({PRESET})")


def _arrays(layer) -> tuple[np.ndarray, np.ndarray]:
    w = layer.weight.detach().cpu().double().numpy()
    b = np.zeros(layer.out_shape) if layer.bias is None else layer.bias.detach().cpu().double().numpy()
    if len(layer.out_shape) == 3 and b.ndim == 1:
        b = np.broadcast_to(b.reshape(-1, 1, 1), layer.out_shape)
    return w, b


def _chain(nodes: dict, metadata: dict):
    import nir

    names = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:])), metadata=metadata)


def sinabs_graph(net: Network, dt: float):
    """Affine -> LIF chain for ``sinabs.from_nir`` (module docstring)."""
    import nir

    _check(net, "Sinabs", conv_ok=True, filter_ok=False)
    nodes: dict = {"input": nir.Input(input_type=np.array(net.input_shape))}
    shape = tuple(net.input_shape)
    for i, layer in enumerate(net.layers):
        n = i + 1
        w, b = _arrays(layer)
        if layer.kind == "dense":
            if len(shape) > 1:
                nodes[f"flat{n}"] = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)
            nodes[f"fc{n}"] = nir.Affine(weight=w.astype(np.float32), bias=b.astype(np.float32))
        else:
            c = layer.cfg
            bias = b.reshape(b.shape[0], -1)[:, 0] if b.ndim == 3 else b
            nodes[f"conv{n}"] = nir.Conv2d(
                input_shape=np.array(shape[1:]), weight=w.astype(np.float32), stride=np.array([c.stride] * 2),
                padding=np.array([c.padding] * 2), dilation=np.array([1, 1]), groups=1,
                bias=bias.astype(np.float32))
        tau = np.full(layer.out_shape, -1.0 / math.log(layer.neuron.beta))
        nodes[f"lif{n}"] = nir.LIF(tau=tau, r=tau.copy(), v_leak=np.zeros(layer.out_shape),
                                   v_threshold=np.full(layer.out_shape, layer.neuron.threshold))
        if layer.pooled_shape != layer.out_shape:
            p = layer.cfg.pool
            nodes[f"pool{n}"] = nir.SumPool2d(kernel_size=np.array([p, p]), stride=np.array([p, p]),
                                              padding=np.array([0, 0]))
        shape = tuple(layer.pooled_shape)
    nodes["output"] = nir.Output(output_type=np.array(shape))
    return _chain(nodes, _metadata("sinabs", 1.0, dt, "steps"))


def rockpool_graph(net: Network, dt: float):
    """Linear -> CubaLIF chain for Rockpool's ``from_nir`` (module docstring)."""
    import nir

    _check(net, "Rockpool", conv_ok=False, filter_ok=True)
    nodes: dict = {"input": nir.Input(input_type=np.array([math.prod(net.input_shape)]))}
    for i, layer in enumerate(net.layers):
        n = i + 1
        w, b = _arrays(layer)
        alpha, beta = layer.neuron.alpha, layer.neuron.beta
        tau_syn = layer.neuron_cfg.tau_syn if alpha > 0 else dt / (30 * math.log(2.0))
        tau_mem = -dt / math.log(beta)
        a = _rockpool_decay(dt, tau_syn)
        shape = layer.out_shape
        nodes[f"fc{n}"] = nir.Linear(weight=(w / a).astype(np.float32))
        nodes[f"lif{n}"] = nir.CubaLIF(
            tau_syn=np.full(shape, tau_syn), tau_mem=np.full(shape, tau_mem),
            r=np.full(shape, tau_mem / dt - 1.0), v_leak=b.copy(),
            v_threshold=np.full(shape, layer.neuron.threshold), w_in=np.ones(shape))
    nodes["output"] = nir.Output(output_type=np.array(net.layers[-1].pooled_shape))
    return _chain(nodes, _metadata("rockpool", dt, dt, "s"))


def _rockpool_decay(dt: float, tau: float) -> float:
    """The synaptic decay as Rockpool computes it (float32 ``exp(-dt / tau)``), so that the
    weights divided by it multiply back to W in Rockpool's own arithmetic."""
    return float(torch.exp(-dt / torch.as_tensor(tau, dtype=torch.float)))


READERS: dict[str, Reader] = {
    "sinabs": Reader(
        "sinabs", "sinabs.from_nir(graph, batch_size=B)", "<=1.0.4",
        decay="exponential, exp(-1/tau) with tau in steps", input="unscaled, straight into v (norm_input=False)",
        dt="none: one step is one time unit", spikes="MultiSpike floor(v/theta), reset by subtraction",
        single="spike_fn = sinabs.activation.SingleSpike on every sinabs.layers.LIF", build=sinabs_graph),
    "rockpool": Reader(
        "rockpool", "rockpool.nn.modules.torch.nir.from_nir(graph)", "<=1.0.4",
        decay="exponential, exp(-dt/tau)", input="into the synaptic state before its decay: i = a (i + x)",
        dt="min(tau_mem / (1 + r))", spikes="floor(v/theta) (max_spikes_per_dt 2**16), reset by subtraction",
        single="max_spikes_per_dt = torch.tensor(1.0) on every LIFTorch", build=rockpool_graph),
}


def _metadata(reader: str, graph_dt: float, dt: float, unit: str) -> dict:
    r = READERS[reader] if reader in READERS else None
    meta = {"dt": graph_dt, "time_unit": unit, "dt_seconds": dt, "reader": reader,
            "reset": "subtract", "source": f"spikelocal {__version__}"}
    if r is not None:
        meta["discretisation"] = f"{r.decay}; input {r.input}; dt {r.dt}"
        meta["load"] = f"{r.importer}; then, for spikelocal's one spike per step, {r.single}"
    return meta


def portable_graph(net: Network, reader: str, dt: float | None = None):
    """The NIR graph of ``net`` for ``reader`` (one of :data:`READERS`)."""
    require_nir()
    if reader not in READERS:
        raise ExportError(f"--reader {reader!r}: expected one of {', '.join(READERS)}")
    dt = float(dt if dt is not None else net.layers[0].neuron_cfg.dt)
    return READERS[reader].build(net, dt)


def write_legacy(graph, path: str | os.PathLike[str]) -> None:
    """``nir.write`` with only the keys nir <= 1.0.4 reads (atomically): newer fields such as
    ``v_reset`` or ``input_type`` make the old ``nir.read`` fail with a TypeError."""
    import h5py
    import nir

    with atomic_output(path) as tmp:
        nir.write(tmp, graph)
        with h5py.File(tmp, "r+") as f:
            _strip(f["node"])


def _strip(group) -> None:
    kind = group["type"][()]
    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    allowed = LEGACY_KEYS.get(kind)
    if allowed is None:
        raise ExportError(f"portable NIR: node type {kind} is not readable by nir<=1.0.4")
    for key in list(group.keys()):
        if key not in allowed:
            del group[key]
    if kind == "NIRGraph":
        for sub in group["nodes"].values():
            _strip(sub)


def write_portable(net: Network, path: str | os.PathLike[str], reader: str, dt: float | None = None) -> None:
    """Write ``net`` as a NIR file that ``reader``'s own importer runs (module docstring)."""
    write_legacy(portable_graph(net, reader, dt), path)


def standard_graph(graph, meta: dict):
    """A portable graph (``meta["reader"]`` set) rewritten in the forward-Euler convention of
    :mod:`.nir_export` at its ``dt_seconds``, for :func:`.nir_import.nir_to_network`; returns
    (graph, dt). The reset by subtraction is the caller's to apply."""
    import nir

    reader = meta.get("reader")
    if reader not in READERS:
        raise ExportError(f"NIR import: metadata reader={reader!r} is not a portable export "
                          f"({', '.join(READERS)})")
    dt = float(meta["dt_seconds"])
    nodes = dict(graph.nodes)
    order = [a for a, _ in graph.edges]
    for name, node in graph.nodes.items():
        kind = type(node).__name__
        if reader == "sinabs" and kind == "LIF":
            beta = np.exp(-1.0 / np.asarray(node.tau, dtype=np.float64))
            nodes[name] = _euler_lif(beta, np.zeros_like(beta), node.v_threshold, dt)
        elif reader == "rockpool" and kind == "CubaLIF":
            step = float(np.min(np.asarray(node.tau_mem, dtype=np.float64) / (1 + np.asarray(node.r))))
            a = np.array([_rockpool_decay(step, float(t)) for t in np.asarray(node.tau_syn).reshape(-1)])
            beta = np.exp(-step / np.asarray(node.tau_mem, dtype=np.float64))
            b = np.asarray(node.v_leak, dtype=np.float64)
            pre = order[[b_ for _, b_ in graph.edges].index(name)]   # the Linear feeding it
            w = np.asarray(graph.nodes[pre].weight, dtype=np.float64) * a.reshape(-1, 1)
            nodes[pre] = nir.Linear(weight=w.astype(np.float32))
            if np.all(a <= ROCKPOOL_NO_FILTER_DECAY * 2):
                nodes[name] = _euler_lif(beta, b, node.v_threshold, dt)
            else:
                alpha = np.exp(-step / np.asarray(node.tau_syn, dtype=np.float64))
                nodes[name] = nir.CubaLIF(
                    tau_syn=dt / (1 - alpha), tau_mem=dt / (1 - beta), r=1 / (1 - beta), v_leak=b / (1 - beta),
                    v_threshold=np.asarray(node.v_threshold, dtype=np.float64), w_in=1 / (1 - alpha),
                    v_reset=np.zeros_like(beta))
    return nir.NIRGraph(nodes=nodes, edges=list(graph.edges), metadata={"dt": dt}), dt


def _euler_lif(beta: np.ndarray, bias: np.ndarray, threshold, dt: float):
    """NIR LIF whose forward-Euler step at ``dt`` is ``v = beta v + x + bias``."""
    import nir

    return nir.LIF(tau=dt / (1 - beta), r=1 / (1 - beta), v_leak=bias / (1 - beta),
                   v_threshold=np.asarray(threshold, dtype=np.float64), v_reset=np.zeros_like(beta))
