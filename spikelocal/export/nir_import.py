"""Import a NIR graph (written by spikelocal or another tool) as a spikelocal network that the
local rule can keep training.

Accepted: a chain ``Input -> ([Flatten] Linear|Affine|Conv2d [CubaLIF|LIF] [SumPool2d|AvgPool2d])+
-> Output``. A synapse without a neuron becomes a ``linear`` (rate) layer. A neuron may also
feed itself back through a Linear node (``lifN -> recN -> lifN``, NIR's recurrent edge, or
through two Linear nodes, the form written for snnTorch's importer): the layer becomes a
``recurrent`` one whose recurrent matrix is the loop's product, scaled per neuron like W.

The graph is read with the convention of :mod:`.nir_export`: forward Euler at the time step
``dt`` (``metadata["dt"]``, or given by the caller, e.g. 1e-4 s for snnTorch graphs). For
CubaLIF with per-neuron factors k = (dt/tau_syn) w_in (dt/tau_mem) r::

    alpha = 1 - dt/tau_syn,  beta = 1 - dt/tau_mem      (spikelocal tau = -dt / ln(alpha|beta))
    W_spikelocal[j] = k_j W[j],   b_j = (dt/tau_mem) v_leak_j,   theta = v_threshold

which is exact: scaling I by k_j turns ``v = beta v + (dt/tau_mem)(v_leak + r I)`` into the
spikelocal ``v = beta v + I + b``. A LIF node has no synaptic filter: it becomes a CubaLIF with
alpha = 0 (tau_syn = dt/1000, exp(-1000) is 0 in floating point), k = (dt/tau) r, and the
Affine bias c (added to its input) folds into b = (dt/tau)(v_leak + r c). Average pooling is
sum pooling with the next layer's weights divided by the window size.

spikelocal keeps one tau_syn, tau_mem and threshold per layer and resets to 0: a graph with
per-neuron time constants or thresholds, or a nonzero v_reset, is refused.

A portable export (:mod:`.nir_portable`, metadata ``reader``) is written for one reader's
discretisation; it is first rewritten in the convention above and imported with the reset by
subtraction it was trained with.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional

import numpy as np
import torch

from ..config import LayerConfig, NetworkConfig, NeuronConfig, input_spec
from ..errors import ExportError
from ..core.network import Network
from .nir_export import graph_metadata
from .nir_portable import standard_graph
from .nir_version import require_nir
from .. import rundir
from ..checkpoint import save_checkpoint
from ..data import load_dataset
from ..trainer import Trainer, run

SYNAPSES = ("Linear", "Affine", "Conv2d")
NEURONS = ("CubaLIF", "LIF")
POOLS = ("SumPool2d", "AvgPool2d")
SUPPORTED = "Input, Output, Flatten, Linear, Affine, Conv2d, CubaLIF, LIF, SumPool2d, AvgPool2d"


def read_graph(path: str | os.PathLike[str]):
    """``nir.read`` with a one-line error for a missing, corrupt or foreign file."""
    import nir

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such NIR file")
    try:
        return nir.read(path)
    except Exception as exc:  # h5py, KeyError, ValueError: all mean "not a NIR graph"
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ExportError(f"{path}: not a readable NIR graph ({msg}); expected an HDF5 file "
                          "written by nir.write") from None


def _chain(graph) -> list[tuple[str, Any]]:
    """Nodes from the Input to the Output, refusing anything that is not a simple chain."""
    nodes = graph.nodes
    inputs = [k for k, n in nodes.items() if type(n).__name__ == "Input"]
    if len(inputs) != 1:
        raise ExportError(f"NIR import: the graph needs exactly one Input node, found {len(inputs)}")
    succ: dict[str, list[str]] = {}
    for a, b in graph.edges:
        succ.setdefault(a, []).append(b)
    order, name, seen = [], inputs[0], set()
    while True:
        if name in seen:
            raise ExportError(f"NIR import: node {name!r} is part of a cycle; only feed-forward chains are supported")
        seen.add(name)
        order.append((name, nodes[name]))
        nxt = succ.get(name, [])
        if not nxt:
            break
        if len(nxt) > 1:
            raise ExportError(f"NIR import: node {name!r} feeds {len(nxt)} nodes; only chains are supported")
        name = nxt[0]
    if type(order[-1][1]).__name__ != "Output":
        raise ExportError(f"NIR import: the chain ends at {order[-1][0]!r}, not at an Output node")
    if len(seen) != len(nodes):
        extra = sorted(set(nodes) - seen)
        raise ExportError(f"NIR import: nodes {extra} are not on the Input -> Output chain")
    return order


def _recurrent_loops(graph) -> tuple[Any, dict[str, np.ndarray]]:
    """Cut every loop neuron -> Linear [-> Linear] -> same neuron out of the graph; returns the
    remaining graph (nodes and edges) and each looped neuron's recurrent matrix."""
    succ: dict[str, list[str]] = {}
    pred: dict[str, list[str]] = {}
    for a, b in graph.edges:
        succ.setdefault(a, []).append(b)
        pred.setdefault(b, []).append(a)
    linear = {k for k, n in graph.nodes.items() if type(n).__name__ == "Linear"}
    only = lambda k: len(succ.get(k, [])) == 1 and len(pred.get(k, [])) == 1  # noqa: E731
    loops: dict[str, np.ndarray] = {}
    cut_nodes: set[str] = set()
    for name, node in graph.nodes.items():
        if type(node).__name__ not in NEURONS:
            continue
        for first in succ.get(name, []):
            path, k = [], first
            while k in linear and only(k) and len(path) < 2:
                path.append(k)
                k = succ[k][0]
                if k == name:
                    break
            if k == name and path:
                mat = np.eye(np.asarray(graph.nodes[path[0]].weight).shape[1])
                for p in path:
                    mat = np.asarray(graph.nodes[p].weight, dtype=np.float64) @ mat
                if name in loops:
                    raise ExportError(f"NIR import: neuron {name!r} has more than one recurrent loop")
                loops[name] = mat
                cut_nodes.update(path)
    if not loops:
        return graph, loops
    nodes = {k: v for k, v in graph.nodes.items() if k not in cut_nodes}
    edges = [(a, b) for a, b in graph.edges if a not in cut_nodes and b not in cut_nodes]
    return SimpleNamespace(nodes=nodes, edges=edges), loops


def _uniform(name: str, key: str, value: np.ndarray) -> float:
    arr = np.asarray(value, dtype=np.float64)
    if arr.size and not np.allclose(arr, arr.flat[0], rtol=1e-6, atol=0):
        raise ExportError(f"NIR import: {name}.{key} differs between neurons; spikelocal supports one "
                          f"value per layer")
    return float(arr.flat[0])


def _per_channel(name: str, key: str, value: np.ndarray, conv: bool) -> np.ndarray:
    """A per-neuron array as one value per dense neuron or per conv channel."""
    arr = np.asarray(value, dtype=np.float64)
    if not conv:
        return arr.reshape(-1)
    flat = arr.reshape(arr.shape[0], -1)
    if not np.allclose(flat, flat[:, :1], rtol=1e-6, atol=1e-12):
        raise ExportError(f"NIR import: {name}.{key} differs within a channel; a conv layer needs one "
                          "value per channel")
    return flat[:, 0]


def _decay(name: str, key: str, tau: float, dt: float) -> float:
    if not tau > dt:
        raise ExportError(f"NIR import: {name}.{key}={tau:g} must exceed dt={dt:g} (Euler decay 1 - dt/tau "
                          "in (0, 1)); pass the dt the graph was written for")
    return 1.0 - dt / tau


def graph_dt(graph, dt: Optional[float]) -> float:
    if dt is not None:
        return float(dt)
    meta = graph.metadata or {}
    if "dt" not in meta:
        raise ExportError("NIR import: the graph has no 'dt' in its metadata; pass dt (snnTorch writes "
                          "graphs for dt = 1e-4 s)")
    return float(np.asarray(meta["dt"]))


def nir_to_network(graph, dt: Optional[float] = None, seed: int = 0) -> Network:
    """Build the spikelocal :class:`Network` of a NIR graph (see the module docstring)."""
    require_nir()
    reset = "hard"
    meta = graph_metadata(graph)
    if "reader" in meta:  # written for one reader's discretisation (nir_portable): undo it
        graph, dt = standard_graph(graph, meta)
        reset = "subtract"
    dt = graph_dt(graph, dt)
    graph, loops = _recurrent_loops(graph)
    chain = _chain(graph)
    input_shape = tuple(int(s) for s in np.asarray(chain[0][1].input_type["input"]).reshape(-1))
    layers: list[dict[str, Any]] = []
    current: Optional[dict[str, Any]] = None
    scale_next = 1.0
    for name, node in chain[1:-1]:
        kind = type(node).__name__
        if kind == "Flatten":
            if current is not None and current["stage"] == "synapse":
                raise ExportError(f"NIR import: Flatten {name!r} between a synapse and its neuron is not supported")
            continue
        if kind in SYNAPSES:
            current = {"name": name, "node": node, "stage": "synapse", "neuron": None, "pool": None,
                       "in_scale": scale_next}
            scale_next = 1.0
            layers.append(current)
        elif kind in NEURONS:
            if current is None or current["stage"] != "synapse":
                raise ExportError(f"NIR import: neuron {name!r} must follow a Linear, Affine or Conv2d node")
            current.update(stage="neuron", neuron=(name, node))
        elif kind in POOLS:
            if current is None or current["stage"] != "neuron" or type(current["node"]).__name__ != "Conv2d":
                raise ExportError(f"NIR import: pooling {name!r} must follow a Conv2d -> neuron pair")
            ks, st, pad = (np.asarray(getattr(node, a)).reshape(-1) for a in ("kernel_size", "stride", "padding"))
            p = int(ks[0])
            if not (np.all(ks == p) and np.all(st == p) and not np.any(pad)):
                raise ExportError(f"NIR import: {kind} {name!r} must be square with stride = kernel and no "
                                  f"padding (got kernel {ks.tolist()}, stride {st.tolist()}, padding {pad.tolist()})")
            current.update(stage="pool", pool=p)
            if kind == "AvgPool2d":
                scale_next = 1.0 / (p * p)
        else:
            raise ExportError(f"NIR import: node {name!r} has type {kind}, which spikelocal cannot express; "
                              f"supported: {SUPPORTED}")
    if not layers:
        raise ExportError("NIR import: the graph has no Linear, Affine or Conv2d node")
    configs, tensors = [], []
    for spec in layers:
        cfg, weight, bias, factor = _convert_layer(spec, dt, reset)
        rec = loops.get(spec["neuron"][0]) if spec["neuron"] is not None else None
        if rec is not None:
            if cfg.kind != "dense" or rec.shape != (weight.shape[0],) * 2:
                raise ExportError(f"NIR import: the recurrent loop of {spec['neuron'][0]!r} needs a dense layer "
                                  f"and a square matrix of its size, got {list(rec.shape)}")
            # the loop enters the same neuron input as W, so row j takes W's factor k_j
            rec = rec * np.broadcast_to(factor, (rec.shape[0],))[:, None]
            cfg = cfg.model_copy(update={"kind": "recurrent",
                                         "self_connections": bool(np.any(np.diag(rec) != 0))})
        configs.append(cfg)
        tensors.append((weight, bias, rec))
    last = layers[-1]
    if type(last["node"]).__name__ == "Conv2d":
        raise ExportError(f"NIR import: the last synapse {last['name']!r} is a Conv2d; spikelocal's output layer "
                          "is dense (one neuron per class)")
    classes = int(np.asarray(last["node"].weight).shape[0])
    net_cfg = NetworkConfig(name="nir_import", neuron=configs[0].neuron or NeuronConfig(), layers=configs)
    try:
        net = Network.from_config(net_cfg, input_shape, classes, seed)
    except Exception as exc:
        raise ExportError(f"NIR import: the layers do not form a spikelocal network ({exc})") from None
    with torch.no_grad():
        for layer, (weight, bias, rec) in zip(net.layers, tensors):
            if rec is not None:
                layer.recurrent.copy_(torch.from_numpy(rec.astype(np.float32)))
            if tuple(layer.weight.shape) != weight.shape:
                raise ExportError(f"NIR import: weight shape {list(weight.shape)} does not fit the layer input "
                                  f"{list(layer.in_shape)} (expected {list(layer.weight.shape)})")
            layer.weight.copy_(torch.from_numpy(weight))
            if layer.bias is not None:
                layer.bias.copy_(torch.from_numpy(bias))
    return net


def _convert_layer(spec: dict[str, Any], dt: float, reset_kind: str = "hard"
                   ) -> tuple[LayerConfig, np.ndarray, np.ndarray, np.ndarray]:
    """The layer's config, W and b in spikelocal's convention, and the per-neuron factor k
    that W was scaled by (module docstring)."""
    node, name = spec["node"], spec["name"]
    kind = type(node).__name__
    w = np.asarray(node.weight, dtype=np.float64) * spec["in_scale"]
    conv = kind == "Conv2d"
    n_out = w.shape[0]
    c = np.zeros(n_out) if kind == "Linear" else np.asarray(node.bias, dtype=np.float64).reshape(-1)
    if c.size != n_out:
        raise ExportError(f"NIR import: {name}.bias has {c.size} entries for {n_out} outputs")
    layer: dict[str, Any] = {"kind": "dense", "units": n_out}
    if conv:
        k = w.shape[-1]
        stride = np.asarray(node.stride).reshape(-1)
        padding = np.asarray(node.padding).reshape(-1)
        dil = np.asarray(node.dilation).reshape(-1)
        if w.shape[-2] != k or stride.min() != stride.max() or padding.min() != padding.max() \
                or np.any(dil != 1) or int(node.groups) != 1 or isinstance(node.padding, str):
            raise ExportError(f"NIR import: Conv2d {name!r} must be square with equal stride and padding, "
                              "dilation 1 and groups 1")
        layer = {"kind": "conv", "channels": n_out, "kernel": int(k), "stride": int(stride[0]),
                 "padding": int(padding[0]), "pool": spec["pool"] or 1}
    if spec["neuron"] is None:
        layer["bias"] = bool(np.any(c != 0))
        layer["neuron"] = {"kind": "linear", "dt": dt}
        return LayerConfig(**layer), w.astype(np.float32), c.astype(np.float32), np.ones(1)
    nname, neuron = spec["neuron"]
    nkind = type(neuron).__name__
    reset = np.asarray(neuron.v_reset if neuron.v_reset is not None else 0.0)
    if np.any(reset != 0):
        raise ExportError(f"NIR import: {nname}.v_reset must be 0 (spikelocal resets to 0)")
    theta = _uniform(nname, "v_threshold", neuron.v_threshold)
    if not theta > 0:
        raise ExportError(f"NIR import: {nname}.v_threshold must be positive, got {theta:g}")
    if nkind == "CubaLIF":
        tau_syn = _uniform(nname, "tau_syn", neuron.tau_syn)
        tau_mem = _uniform(nname, "tau_mem", neuron.tau_mem)
        alpha = _decay(nname, "tau_syn", tau_syn, dt)
        beta = _decay(nname, "tau_mem", tau_mem, dt)
        if np.any(c != 0):
            raise ExportError(f"NIR import: {name}.bias is added to the synaptic current of CubaLIF {nname!r}; "
                              "spikelocal adds biases to v (use v_leak)")
        k = (dt / tau_syn) * _per_channel(nname, "w_in", neuron.w_in, conv) \
            * (dt / tau_mem) * _per_channel(nname, "r", neuron.r, conv)
        b = (dt / tau_mem) * _per_channel(nname, "v_leak", neuron.v_leak, conv)
        syn_tau = -dt / math.log(alpha)
    else:
        tau = _uniform(nname, "tau", neuron.tau)
        beta = _decay(nname, "tau", tau, dt)
        r = _per_channel(nname, "r", neuron.r, conv)
        k = (dt / tau) * r
        b = (dt / tau) * (_per_channel(nname, "v_leak", neuron.v_leak, conv) + r * c)
        syn_tau = dt / 1000.0
    layer["bias"] = bool(np.any(b != 0))
    layer["neuron"] = {"kind": "lif", "dt": dt, "tau_syn": syn_tau, "tau_mem": -dt / math.log(beta),
                       "threshold": theta, "reset": reset_kind}
    w = w * k.reshape((-1,) + (1,) * (w.ndim - 1))
    return LayerConfig(**layer), w.astype(np.float32), b.astype(np.float32), np.asarray(k, dtype=np.float64)


def read_nir(path: str | os.PathLike[str], dt: Optional[float] = None, seed: int = 0) -> Network:
    """Read a NIR file into a spikelocal :class:`Network`."""
    return nir_to_network(read_graph(path), dt, seed)


def start_run_from_nir(path: str | os.PathLike[str], config, out: str | os.PathLike[str],
                       dt: Optional[float] = None, train: bool = True) -> dict[str, Any]:
    """Make a run directory whose network is the NIR graph at ``path`` and (with ``train``)
    train it with ``config``'s rule, data and schedule; returns the run summary.

    ``config`` is an ``ExperimentConfig``; its ``network`` section is replaced by the imported
    one (a fresh random readout G per layer, from ``config.seed``). Without ``train`` the run
    stops at epoch 0, and ``spikelocal run OUT/config.yaml --resume --out OUT`` trains it.
    """
    imported = read_nir(path, dt, config.seed)
    net_cfg = imported.cfg.model_copy(update={"readout": config.network.readout})
    config = config.model_copy(update={"network": net_cfg})
    shape, classes = input_spec(config.data)
    if math.prod(shape) != math.prod(imported.input_shape) or classes != imported.num_classes:
        raise ExportError(f"{path}: the graph takes {list(imported.input_shape)} inputs and has "
                          f"{imported.num_classes} outputs; the data has {list(shape)} and {classes} classes")
    out = Path(out)
    data = load_dataset(config.data, config.seed)
    trainer = Trainer(config, data)
    with torch.no_grad():
        for mine, theirs in zip(trainer.net.layers, imported.layers):
            mine.weight.copy_(theirs.weight.reshape(mine.weight.shape))
            if mine.bias is not None and theirs.bias is not None:
                mine.bias.copy_(theirs.bias)
    rundir.prepare_new(out, config)
    rundir.write_data_spec(out, data.input_shape, len(data.classes))
    save_checkpoint(out / rundir.CHECKPOINT, *trainer.state())
    rundir.append_log(out, f"network imported from NIR graph {path}")
    if not train:
        return {"run_dir": str(out), "epochs": 0}
    return run(config, out, resume=True, progress=False)
