"""Export a spiking spikelocal network to Brian2: arrays, an in-process Brian2 network, and a
runnable folder (``spikelocal_brian2.py`` + ``weights.npz`` + ``run.py``).

The neuron update and the timing convention are those of :mod:`.brian2_model`. Here each
layer's synapses become explicit (pre, post, w) lists: a dense layer connects all pairs
(exact zeros skipped), a conv layer one synapse per kernel tap that lands inside the input,
and the sum pooling of the layer below is folded in (every neuron of a pooling window
connects with the weight of its pooled unit, which is exact because pooling is a sum).
"""
from __future__ import annotations

import math
import os
import shutil
from typing import Optional

import numpy as np
import torch

from ..errors import ExportError
from ..core.network import Network
from ..core.simulate import Simulator
from . import brian2_model
from .common import atomic_output, require_hard_reset, require_spiking


def _dense_synapses(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    post, pre = np.nonzero(w)
    return pre.astype(np.int64), post.astype(np.int64), w[post, pre]


def _conv_synapses(w: np.ndarray, in_shape: tuple[int, int, int], stride: int,
                   padding: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    co, ci, k, _ = w.shape
    c, h, wd = in_shape
    oh, ow = (h + 2 * padding - k) // stride + 1, (wd + 2 * padding - k) // stride + 1
    o, y, x, i, ky, kx = np.meshgrid(np.arange(co), np.arange(oh), np.arange(ow), np.arange(ci),
                                     np.arange(k), np.arange(k), indexing="ij", sparse=False)
    iy, ix = y * stride + ky - padding, x * stride + kx - padding
    ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < wd)
    weight = w[o, i, ky, kx]
    ok &= weight != 0
    pre = (i * h + iy) * wd + ix
    post = (o * oh + y) * ow + x
    return pre[ok].astype(np.int64), post[ok].astype(np.int64), weight[ok]


def _unpool(pre: np.ndarray, post: np.ndarray, w: np.ndarray, out_shape: tuple[int, ...],
            pool: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Replace each pre index into a pooled map by the pool*pool neurons of its window."""
    c, h, wd = out_shape
    ph, pw = h // pool, wd // pool
    ch, rem = np.divmod(pre, ph * pw)
    py, px = np.divmod(rem, pw)
    dy, dx = np.divmod(np.arange(pool * pool), pool)
    full = (ch[:, None] * h + py[:, None] * pool + dy[None]) * wd + px[:, None] * pool + dx[None]
    n = pool * pool
    return full.ravel(), np.repeat(post, n), np.repeat(w, n)


def network_arrays(net: Network, steps: int) -> dict[str, np.ndarray]:
    """The arrays of :mod:`.brian2_model` for ``net`` simulated over ``steps`` steps."""
    require_spiking(net, "Brian2")
    require_hard_reset(net, "Brian2")
    dts = {layer.neuron_cfg.dt for layer in net.layers}
    if len(dts) != 1:
        raise ExportError(f"Brian2 export: all layers must share one dt, got {sorted(dts)}")
    arrays: dict[str, np.ndarray] = {
        "dt": np.float64(dts.pop()), "steps": np.int64(steps),
        "n_input": np.int64(math.prod(net.input_shape)), "n_layers": np.int64(len(net.layers)),
    }
    below = None
    for i, layer in enumerate(net.layers):
        l = i + 1
        w = layer.weight.detach().cpu().numpy().astype(np.float64)
        if layer.kind in ("dense", "recurrent"):
            pre, post, ws = _dense_synapses(w)
        else:
            pre, post, ws = _conv_synapses(w, layer.in_shape, layer.cfg.stride, layer.cfg.padding)
        if below is not None and below.pooled_shape != below.out_shape:
            pre, post, ws = _unpool(pre, post, ws, below.out_shape, below.cfg.pool)
        n = layer.num_neurons
        bias = np.zeros(n)
        if layer.bias is not None:
            b = layer.bias.detach().cpu().double().numpy()
            bias = np.repeat(b, n // b.size) if layer.kind == "conv" else b
        arrays.update({
            f"l{l}_n": np.int64(n), f"l{l}_alpha": np.float64(layer.neuron.alpha),
            f"l{l}_beta": np.float64(layer.neuron.beta),
            f"l{l}_threshold": np.float64(layer.neuron.threshold), f"l{l}_bias": bias,
            f"l{l}_pre": pre, f"l{l}_post": post, f"l{l}_w": ws,
        })
        if layer.is_recurrent:
            rec = layer.recurrent_weight().detach().cpu().numpy().astype(np.float64)
            pre, post, ws = _dense_synapses(rec)   # zero weights (the diagonal) are no synapse
            arrays.update({f"l{l}_rec_pre": pre, f"l{l}_rec_post": post, f"l{l}_rec_w": ws})
        below = layer
    return arrays


def brian2_network(net: Network, spikes: torch.Tensor, target: str = "numpy"):
    """A Brian2 ``Network`` (groups, synapses, spike generator, monitors) for input spikes
    ``[S, T, *input_shape]``; see :func:`.brian2_model.build`."""
    arrays = network_arrays(net, spikes.shape[1])
    return brian2_model.build(arrays, _flat_spikes(spikes), target)


def brian2_counts(net: Network, spikes: torch.Tensor, target: str = "numpy") -> list[np.ndarray]:
    """Per-layer spike counts [S, n] of ``net`` run in Brian2 on ``spikes [S, T, *input_shape]``."""
    arrays = network_arrays(net, spikes.shape[1])
    return brian2_model.run_counts(arrays, _flat_spikes(spikes), target)


def _flat_spikes(spikes: torch.Tensor | np.ndarray) -> np.ndarray:
    x = spikes.numpy() if isinstance(spikes, torch.Tensor) else np.asarray(spikes)
    return x.reshape(x.shape[0], x.shape[1], -1) > 0


_RUN_PY = '''"""Run the exported spikelocal network in Brian2: python run.py [inputs.npz] [--target cython]."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import spikelocal_brian2  # noqa: E402

raise SystemExit(spikelocal_brian2.main([str(Path(__file__).resolve().parent / "weights.npz"), *sys.argv[1:]]))
'''


def write_brian2(net: Network, path: str | os.PathLike[str], steps: int,
                 samples: Optional[torch.Tensor] = None, labels: Optional[torch.Tensor] = None) -> None:
    """Write a folder that rebuilds and runs ``net`` in Brian2 (``python PATH/run.py``).

    ``samples`` [S, T, *input_shape] (optional) are stored as the script's default input.
    """
    arrays = network_arrays(net, steps)
    if samples is not None:
        arrays["sample_spikes"] = _flat_spikes(samples)
        if labels is not None:
            arrays["sample_labels"] = labels.numpy().astype(np.int64)
    with atomic_output(path, folder=True) as tmp:
        tmp.mkdir()
        np.savez(tmp / "weights.npz", **arrays)
        shutil.copyfile(brian2_model.__file__, tmp / "spikelocal_brian2.py")
        (tmp / "run.py").write_text(_RUN_PY)


def spikelocal_counts(net: Network, spikes: torch.Tensor) -> list[np.ndarray]:
    """Spike counts [S, n] per layer in spikelocal itself (the reference for parity)."""
    x = spikes.transpose(0, 1).float()  # [T, S, ...]
    sim = Simulator(net.layers)
    with torch.no_grad():
        records = sim.run(x, sim.start(x.shape[1], x.device))
    return [rec.output.reshape(x.shape[0], x.shape[1], -1).sum(0).numpy().astype(np.int64) for rec in records]
