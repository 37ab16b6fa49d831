"""The NIR graph that Norse's importer (``norse.torch.from_nir``, Norse 1.1) runs with
spikelocal's spike counts, biases included.

Norse 1.1 maps ``CubaLIF`` to a leaky-integrator synapse followed by a LIF cell and gives
both the node's ``v_leak``: it is added to the synaptic current as well as to the membrane,
and both states start at ``v_leak``. The default export carries a layer's bias in
``v_leak`` (:mod:`.nir_export`), so Norse's counts differ for a layer with a bias. No choice
of ``v_leak``, ``w_in``, ``r`` or an Affine bias in front of a ``CubaLIF`` fixes that: a
nonzero ``v_leak`` starts the membrane off zero, and a constant input current passes
through the synaptic filter, which turns it into a transient of length ~tau_syn.

Norse also maps NIR's ``LI`` and ``LIF`` nodes (forward Euler,
``v += dt/tau (v_leak - v + x)``, ``r`` ignored, state starting at ``v_leak``). So a spiking
layer with a bias is written as the two halves of its CubaLIF, with the bias as an
input-independent current between them::

    fc/conv (W / (1 - alpha))  ->  syn: LI(tau_syn, r=1, v_leak=0)
      ->  cur: Affine(diag 1/(1 - beta), bias b/(1 - beta))   (conv: a diagonal 1x1 Conv2d)
      ->  lif: LIF(tau_mem, r=1, v_leak=0, v_threshold=theta, v_reset=0)

with ``tau = dt / (1 - decay)``. Euler at ``dt`` gives ``I = alpha I + W s`` in ``syn`` and
``v = beta v + I + b`` in ``lif``: spikelocal's update, both states starting at 0. This is
also NIR's own meaning of the chain (``tau dv/dt = v_leak - v + R I``), so the graph stays
a correct NIR graph for other readers. Layers without a bias keep their ``CubaLIF``, which
Norse runs right.

Norse does not read ``dt`` from the graph (``from_nir(graph, dt=0.001)`` by default), so
this graph is written for dt = 1e-3 s unless asked otherwise: ``norse.torch.from_nir(graph)``
then runs it as written; only dt/tau matters, so the discrete dynamics are the network's.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from ..core.network import Network
from .common import atomic_output
from .nir_export import cuba_parameters, network_to_nir

#: ``norse.torch.from_nir``'s default time step (Norse 1.1)
NORSE_DT = 1e-3
LOAD = "norse.torch.from_nir(graph) (its default dt = 1e-3 s is the graph's dt)"


def _split(layer, dt: float, shape: tuple[int, ...]):
    """The LI -> Affine/Conv2d -> LIF nodes of one biased LIF layer (module docstring)."""
    import nir

    p = cuba_parameters(layer, dt)
    beta = layer.neuron.beta
    b = layer.bias.detach().cpu().double().numpy()
    gain = 1.0 / (1.0 - beta)
    syn = nir.LI(tau=p["tau_syn"], r=np.ones(shape), v_leak=np.zeros(shape))
    if len(shape) == 3:
        c = shape[0]
        # a 1x1 conv with a diagonal [C, C] kernel: nir's type inference reads the input channels
        # from the weight alone, so the per-channel (groups=C) form does not type-check
        cur = nir.Conv2d(input_shape=np.array(shape[1:]),
                         weight=(np.eye(c) * gain).astype(np.float32).reshape(c, c, 1, 1),
                         stride=np.array([1, 1]), padding=np.array([0, 0]), dilation=np.array([1, 1]),
                         groups=1, bias=(b * gain).astype(np.float32))
    else:
        cur = nir.Affine(weight=(np.eye(shape[0]) * gain).astype(np.float32), bias=(b * gain).astype(np.float32))
    lif = nir.LIF(tau=p["tau_mem"], r=np.ones(shape), v_leak=np.zeros(shape),
                  v_threshold=p["v_threshold"], v_reset=np.zeros(shape))
    return syn, cur, lif


def norse_graph(net: Network, dt: Optional[float] = None):
    """The NIR graph of ``net`` for Norse's importer (module docstring); ``dt`` defaults to
    :data:`NORSE_DT`, the step ``from_nir`` uses when none is passed."""
    import nir

    dt = float(NORSE_DT if dt is None else dt)
    graph = network_to_nir(net, dt)
    nodes, edges = dict(graph.nodes), list(graph.edges)
    for n, layer in enumerate(net.layers, start=1):
        if f"lif{n}" not in nodes or layer.bias is None:
            continue
        syn, cur, lif = _split(layer, dt, tuple(layer.out_shape))
        fc = next(a for a, b in edges if b == f"lif{n}")
        w = nodes[fc]
        scale = np.float32(1.0 / (1.0 - layer.neuron.alpha))    # LI scales its input by dt/tau_syn
        if isinstance(w, nir.Conv2d):
            nodes[fc] = nir.Conv2d(input_shape=w.input_shape, weight=w.weight * scale, stride=w.stride,
                                   padding=w.padding, dilation=w.dilation, groups=w.groups, bias=w.bias * scale)
        else:
            nodes[fc] = nir.Linear(weight=w.weight * scale)
        nodes.update({f"syn{n}": syn, f"cur{n}": cur, f"lif{n}": lif})
        edges = [(a, f"syn{n}") if b == f"lif{n}" else (a, b) for a, b in edges]
        edges += [(f"syn{n}", f"cur{n}"), (f"cur{n}", f"lif{n}")]
    metadata = {**graph.metadata, "dt": dt, "written_for": "norse", "load": LOAD,
                "discretisation": "forward-euler at dt; a biased layer as LI -> bias current -> LIF"}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def write_norse(net: Network, path: str | os.PathLike[str], dt: Optional[float] = None) -> None:
    """Write :func:`norse_graph` as a NIR HDF5 file at ``path`` (atomically)."""
    import nir

    with atomic_output(path) as tmp:
        nir.write(tmp, norse_graph(net, dt))
