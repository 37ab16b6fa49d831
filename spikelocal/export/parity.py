"""Does the exported network behave the same in the real tool? Figures for ``export --check N``.

All checks feed the same encoded test images (the run's encoder, fixed seed) to spikelocal
and to the other side, and compare spike counts per (sample, neuron) and the predicted class
(the output neuron with most spikes, first on ties, for both sides).
"""
from __future__ import annotations

import contextlib
import io
import math
import os
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from ..core.network import Network
from .brian2_export import brian2_counts, spikelocal_counts
from . import brian2_model
from .common import layer_name
from .nir_export import network_to_nir
from .nir_export import graph_metadata
from ..hardware import simulate_integer

SNNTORCH_DT = 1e-4  # snnTorch 1.0's import_from_nir hard-codes this step


def agreement(ours: list[np.ndarray], theirs: list[np.ndarray]) -> dict[str, Any]:
    return {
        "samples": int(ours[-1].shape[0]),
        "neuron_count_agreement": [float(np.mean(a == b)) for a, b in zip(ours, theirs)],
        "class_agreement": float(np.mean(ours[-1].argmax(1) == theirs[-1].argmax(1))),
        "spikes": [int(a.sum()) for a in ours],
    }


def check_brian2(net: Network, spikes: torch.Tensor, folder: Optional[str | os.PathLike[str]] = None
                 ) -> dict[str, Any]:
    """Brian2 (numpy code generation) against spikelocal; ``spikes`` is [S, T, *input_shape].
    With ``folder`` (an export), Brian2 is built from its ``weights.npz``, as ``run.py`` does."""
    if folder is None:
        return agreement(spikelocal_counts(net, spikes), brian2_counts(net, spikes))

    arrays = brian2_model.load_arrays(str(Path(folder) / "weights.npz"))
    x = spikes.numpy().reshape(spikes.shape[0], spikes.shape[1], -1) > 0
    return agreement(spikelocal_counts(net, spikes), brian2_model.run_counts(arrays, x))


def check_norse(net: Network, spikes: torch.Tensor, path: str | os.PathLike[str]) -> dict[str, Any]:
    """The file written with ``--reader norse`` run by ``norse.torch.from_nir(graph)`` with
    Norse's default dt, one sample at a time: output-layer spike counts against spikelocal's.
    Skipped (with the reason) where Norse is not installed."""
    try:
        import norse.torch as norse
    except ImportError:
        return {"skipped": "norse is not installed (pip install --no-deps norse, next to torch, nir, nirtorch)"}
    import nir

    try:
        model = norse.from_nir(nir.read(str(path)))
    except KeyError as exc:   # nirtorch meets a node this Norse does not map
        return {"skipped": f"this Norse's from_nir does not map every node (KeyError {exc}): NIR LI "
                           "nodes are mapped after Norse 1.1.0; see docs/interop/norse.md"}
    counts = []
    with torch.no_grad():
        for sample in spikes.float():
            state, total = None, torch.zeros(net.num_classes)
            for x in sample:
                y, state = model(x, state)
                total += y.reshape(-1)
            counts.append(total.numpy().astype(np.int64))
    out = agreement([spikelocal_counts(net, spikes)[-1]], [np.stack(counts)])
    out["neuron_count_agreement"] = {"output": out["neuron_count_agreement"][0]}
    return out


def check_snntorch(net: Network, spikes: torch.Tensor, path: Optional[str | os.PathLike[str]] = None
                   ) -> dict[str, Any]:
    """The NIR graph (written at dt = 1e-4) imported by snnTorch's ``import_from_nir``:
    output-layer spike counts against spikelocal's. Skipped (with the reason) for a network
    snnTorch's importer cannot take: biases (v_leak) or rate layers. Recurrent loops are run
    in the form :mod:`.nir_export` writes for snnTorch (``snntorch_loops``), the state that
    the imported module returns passed back each step."""
    import snntorch.utils
    from snntorch.import_nir import import_from_nir

    for i, layer in enumerate(net.layers):
        if layer.neuron_cfg.kind != "lif" or (layer.bias is not None and bool(layer.bias.detach().any())):
            return {"skipped": f"{layer_name(i)} has a bias or a rate neuron; snnTorch's import_from_nir "
                               "asserts v_leak == 0 and compares spikes of CubaLIF layers only"}
    graph, source = None, "graph of the network at dt = 1e-4"
    if path is not None:
        import nir

        graph = nir.read(path)
        file_dt = graph_metadata(graph).get("dt")
        two_cycles = [(a, b) for a, b in graph.edges if (b, a) in graph.edges]
        if two_cycles:
            graph, source = None, (f"graph rebuilt with its recurrent loops through an identity node: the file's "
                                   f"{two_cycles[0][0]} <-> {two_cycles[0][1]} is a two-node cycle, which snnTorch "
                                   "1.0.0's import_from_nir rewires (export with --reader snntorch)")
        elif file_dt is None or not math.isclose(float(file_dt), SNNTORCH_DT, rel_tol=1e-9):
            graph, source = None, (f"graph rebuilt at dt = 1e-4: the file's dt is {file_dt} and snnTorch's "
                                   "importer assumes 1e-4 (export with --dt 1e-4 for snnTorch)")
        else:
            source = f"the file {path}"
    with contextlib.redirect_stdout(io.StringIO()):  # snnTorch prints while importing
        module = import_from_nir(graph if graph is not None else network_to_nir(net, SNNTORCH_DT, snntorch_loops=True))
    flat = len(net.input_shape) == 3 and net.layers[0].kind == "dense"
    counts = []
    with torch.no_grad():
        for sample in spikes.float():
            snntorch.utils.reset(module)
            total = torch.zeros(net.num_classes)
            state = None  # nirtorch keeps a recurrent loop's last output in the state it returns
            for x in sample:
                y = module(x.reshape(-1) if flat else x, state)
                y, state = y if isinstance(y, tuple) else (y, None)
                total += y.reshape(-1)
            counts.append(total.numpy().astype(np.int64))
    ours = spikelocal_counts(net, spikes)
    out = agreement([ours[-1]], [np.stack(counts)])
    out["neuron_count_agreement"] = {"output": out["neuron_count_agreement"][0]}
    out["imported"] = source
    return out


def check_integer_readback(int_net, back, spikes: torch.Tensor) -> dict[str, Any]:
    """The fixed-point network against the one read back from the written file. A linear
    output layer (read by the host) has no spikes: its summed int64 outputs are compared, and
    its spike total is reported as None."""
    x = spikes.transpose(0, 1).numpy().astype(np.uint8)
    out = agreement(simulate_integer(int_net, x).counts, simulate_integer(back, x).counts)
    out["spikes"] = [None if layer.linear else n for layer, n in zip(int_net.layers, out["spikes"])]
    return out
