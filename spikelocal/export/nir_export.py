"""Export a float spikelocal network as a NIR graph (Pedersen et al. 2024, Nat. Commun. 15:8122).

Graph: ``input -> [flatN] -> fcN | convN -> lifN -> [poolN] -> ... -> output`` with NIR's
Input, Flatten, Linear / Affine / Conv2d, CubaLIF, SumPool2d and Output nodes. A recurrent
layer adds the cycle ``lifN -> recN -> lifN`` (``recN`` a Linear node holding W_rec): NIR's
recurrent edge; the reader's recurrent current reads the spikes of the step before, as
spikelocal's layer does.

For snnTorch (``snntorch_loops``, ``--reader snntorch``) the loop is written as
``lifN -> recN -> recN_id -> lifN`` (``recN_id`` the identity): the same equations. Why:
snnTorch 1.0.0's ``import_from_nir`` rewrites every two-node cycle neuron <-> Linear into a
subgraph whose edges route the subgraph's input into W_rec (``_create_rnn_subgraph``:
``(input, w_rec)``), and nirtorch 2.x builds that subgraph node by node (its ``RSynaptic``
branch is never reached), so the imported layer computes W_rec (W_in x + s[t-1]); a
three-node cycle is left alone, and nirtorch's interpreter runs it with the previous step's
output when the caller passes the returned state back each step.

NIR stores continuous ODEs and no time step. Ours is the graph's ``metadata["dt"]``, with
the convention that forward Euler at that ``dt`` reproduces spikelocal's discrete update
(``spikelocal.core.neurons``) exactly. With alpha = exp(-dt_net/tau_syn), beta = exp(-dt_net/tau_mem)
of each layer and the graph's ``dt``::

    tau_syn = dt / (1 - alpha)        w_in   = tau_syn / dt = 1 / (1 - alpha)
    tau_mem = dt / (1 - beta)         r      = tau_mem / dt = 1 / (1 - beta)
    v_leak  = r * b                   v_threshold = theta,  v_reset = 0

Euler on ``tau_syn I' = -I + w_in S`` and ``tau_mem v' = v_leak - v + r I`` (I first, then
v with the new I) gives ``I = alpha I + S`` and ``v = beta v + I + b``: the spikelocal update.
The bias of a LIF layer therefore travels in ``v_leak``, never in an Affine bias (which
would be added to I). This is also the mapping of snnTorch's own exporter and importer,
which assume dt = 1e-4 s: export with ``dt=1e-4`` for snnTorch (only the ratios dt/tau
matter, so the discrete dynamics are the same for every dt).

A layer with a ``linear`` neuron (rate read-out) becomes a Linear/Affine node alone; other
rate neurons (relu, sigmoid, tanh) and the subtract reset have no NIR node.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..version import __version__
from ..errors import ExportError
from ..core.network import Network
from .common import atomic_output, require_feed_forward, require_hard_reset, require_spiking
from .nir_version import require_nir
from ..analysis.recording import latest_recording, load_recording

CONVENTION = "forward-euler; I then v; tau chosen so that Euler at dt equals exp(-dt_net/tau) decays"


def _arr(t: Optional[torch.Tensor], shape: tuple[int, ...]) -> np.ndarray:
    return np.zeros(shape, dtype=np.float32) if t is None else t.detach().cpu().numpy().astype(np.float32)


def cuba_parameters(layer, dt: float) -> dict[str, np.ndarray]:
    """NIR CubaLIF parameters of one LIF layer at graph step ``dt`` (module docstring)."""
    alpha, beta = layer.neuron.alpha, layer.neuron.beta   # the neuron's own decays
    shape = layer.out_shape
    ones = np.ones(shape, dtype=np.float64)
    r = layer.neuron.bias_gain                            # 1 / (1 - beta)
    v_leak = np.zeros(shape, dtype=np.float64)
    if layer.bias is not None:
        b = layer.bias.detach().cpu().double().numpy()
        v_leak = v_leak + (b.reshape(-1, 1, 1) if len(shape) == 3 else b) * r
    return {
        "tau_syn": ones * dt / (1.0 - alpha), "tau_mem": ones * dt / (1.0 - beta),
        "r": ones * r, "v_leak": v_leak, "v_threshold": ones * layer.neuron.threshold,
        "v_reset": np.zeros(shape), "w_in": ones / (1.0 - alpha),
    }


def network_to_nir(net: Network, dt: Optional[float] = None, snntorch_loops: bool = False):
    """The NIR graph of ``net`` (see the module docstring); ``dt`` defaults to layer 1's;
    ``snntorch_loops`` writes each recurrent loop through an identity node for snnTorch."""
    import nir

    require_nir()
    require_feed_forward(net, "NIR", recurrent_ok=True)
    require_spiking(net, "NIR", allowed_rate=("linear",))
    require_hard_reset(net, "NIR")
    dt = float(dt if dt is not None else net.layers[0].neuron_cfg.dt)
    if not dt > 0:
        raise ExportError(f"NIR export: dt must be positive, got {dt}")
    nodes: dict = {"input": nir.Input(input_type=np.array(net.input_shape))}
    edges: list[tuple[str, str]] = []
    prev, shape = "input", tuple(net.input_shape)

    def add(name: str, node) -> None:
        nonlocal prev
        nodes[name] = node
        edges.append((prev, name))
        prev = name

    for i, layer in enumerate(net.layers):
        n = i + 1
        lif = layer.neuron_cfg.kind == "lif"
        w = layer.weight.detach().cpu().numpy().astype(np.float32)
        bias = None if (lif or layer.bias is None) else _arr(layer.bias, (w.shape[0],))
        if layer.kind in ("dense", "recurrent"):
            if len(shape) > 1:
                add(f"flat{n}", nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1))
            add(f"fc{n}", nir.Linear(weight=w) if bias is None else nir.Affine(weight=w, bias=bias))
        else:
            c = layer.cfg
            add(f"conv{n}", nir.Conv2d(
                input_shape=np.array(shape[1:]), weight=w, stride=np.array([c.stride, c.stride]),
                padding=np.array([c.padding, c.padding]), dilation=np.array([1, 1]), groups=1,
                bias=bias if bias is not None else np.zeros(w.shape[0], dtype=np.float32)))
        if lif:
            add(f"lif{n}", nir.CubaLIF(**cuba_parameters(layer, dt)))
        if layer.is_recurrent:
            if not lif:
                raise ExportError(f"layer{n}: NIR export of a recurrent layer needs lif neurons")
            nodes[f"rec{n}"] = nir.Linear(weight=layer.recurrent_weight().detach().cpu().numpy().astype(np.float32))
            if snntorch_loops:
                nodes[f"rec{n}_id"] = nir.Linear(weight=np.eye(layer.num_neurons, dtype=np.float32))
                edges.extend([(f"lif{n}", f"rec{n}"), (f"rec{n}", f"rec{n}_id"), (f"rec{n}_id", f"lif{n}")])
            else:
                edges.extend([(f"lif{n}", f"rec{n}"), (f"rec{n}", f"lif{n}")])
        if layer.pooled_shape != layer.out_shape:
            p = layer.cfg.pool
            add(f"pool{n}", nir.SumPool2d(kernel_size=np.array([p, p]), stride=np.array([p, p]),
                                          padding=np.array([0, 0])))
        shape = tuple(layer.pooled_shape)
    add("output", nir.Output(output_type=np.array(shape)))
    metadata = {"dt": dt, "discretisation": CONVENTION, "reset": "hard, to v_reset",
                "source": f"spikelocal {__version__}", "time_unit": "s"}
    try:
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)
    except (ValueError, AssertionError) as exc:
        raise ExportError(f"NIR export: the graph does not type-check ({exc})") from None


def write_nir(net: Network, path: str | os.PathLike[str], dt: Optional[float] = None,
              snntorch_loops: bool = False) -> None:
    """Write ``net`` as a NIR HDF5 file at ``path`` (atomically)."""
    import nir

    graph = network_to_nir(net, dt, snntorch_loops)
    with atomic_output(path) as tmp:
        nir.write(tmp, graph)


def graph_metadata(graph) -> dict:
    """The graph's metadata with bytes decoded (h5py returns strings as bytes)."""
    out = {}
    for key, value in (graph.metadata or {}).items():
        if isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    return out


def recording_to_nir_data(inputs: np.ndarray, layers: dict[int, dict[str, Optional[np.ndarray]]],
                          dt: float, spiking: dict[int, bool]):
    """NIR data (``nir.NIRGraphData``) of a recording, keyed by the graph's node names.

    ``inputs`` is [N, T, D]; ``layers`` maps the 1-based layer number to arrays [N, T, n] named
    ``spikes``, ``membrane`` (V before the reset) and ``current`` (I); absent ones are None.
    Observables: ``input.output``; for a LIF layer ``lif<l>.spikes``, ``lif<l>.v``,
    ``lif<l>.i``; for a linear layer ``fc<l>.output`` (its pre-activation).
    """
    import nir

    nodes = {"input": nir.NIRNodeData({"output": nir.TimeGriddedData(np.asarray(inputs), float(dt))})}
    for l, arrays in layers.items():
        obs = {}
        for key, name in (("spikes", "spikes"), ("membrane", "v"), ("current", "i")):
            value = arrays.get(key)
            if value is not None:
                value = np.asarray(value)
                obs[name] = nir.TimeGriddedData(value.astype(bool) if key == "spikes" else value, float(dt))
        if not obs:
            continue
        if spiking.get(l, True):
            nodes[f"lif{l}"] = nir.NIRNodeData(obs)
        elif "v" in obs:
            nodes[f"fc{l}"] = nir.NIRNodeData({"output": obs["v"]})
    return nir.NIRGraphData(nodes)


def run_recording_to_nir(run_dir: str | os.PathLike[str], net: Network, path: str | os.PathLike[str]) -> bool:
    """Write the run's latest recording (``RUN/recordings/epoch_*.h5``) as NIR data at ``path``;
    False when the run has none."""
    import nir

    found = latest_recording(Path(run_dir))
    if found is None:
        return False
    rec = load_recording(found)
    layers = {l: {"spikes": r.spikes, "membrane": r.membrane, "current": r.current} for l, r in rec.layers.items()}
    spiking = {i + 1: layer.neuron_cfg.kind == "lif" for i, layer in enumerate(net.layers)}
    data = recording_to_nir_data(rec.inputs, layers, rec.dt, spiking)
    with atomic_output(path) as tmp:
        nir.write_data(tmp, data)
    return True
