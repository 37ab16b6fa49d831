"""The HDF5 core file: what each core of the chip holds, enough to rebuild the network.

Layout (format ``spikelocal-cores``, version 1; integers little-endian)::

    /                     attrs: format, version, target (the target description, JSON),
                                 weight_bits, input_shape, num_classes, mapping (JSON report)
    /layers/<i>           i = 0, 1, ...; attrs: kind ("dense"|"conv"), in_shape, out_shape,
                                 kernel, stride, padding, pool_folded, scale, cores (ids)
    /cores/<k>            k = 0, 1, ... (global core id); attrs:
                                 layer (0-based), neuron_start, neuron_stop (range of the
                                 layer's neurons, flattened C,H,W), weight_exp, du, dv, vth,
                                 bias_exp
        axons             int32 [A]     the layer inputs (flattened previous-layer neurons, or
                                        input pixels) this core receives, ascending
        weights           int16 [n, A]  weight mantissas, row = neuron, column = axon
                                        (effective weight = mantissa * 2**weight_exp;
                                        0 where no synapse)
        bias_mant         int32 [n]     only when the layer has a bias
        recurrent_weights int16 [n, N]  only in a recurrent layer: mantissas from the layer's
                                        own N neurons (same weight_exp)

Layer attrs added for the compartments of :mod:`.stateful_core`: reset ("hard"|"subtract"),
linear (0|1), and for an adaptive threshold adapt_decay and adapt_jump (absent: none).

The reader assembles each layer from its cores alone: a dense layer's matrix from the
blocks, a conv layer's kernel from the position of every (neuron, axon) pair inside its
receptive field (it checks that all cores agree on the shared kernel).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from ..errors import ExportError
from ..h5read import open_hdf5
from .fixed_point import IntegerLayer, IntegerNetwork
from .mapping import Mapping
from .targets import Target

FORMAT = "spikelocal-cores"
VERSION = 1


def _conv_taps(layer: IntegerLayer, a: int, b: int,
               axons: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """For neurons [a, b) of a conv layer and the given axons: the (row, column) pairs of the
    core's block that fall inside a kernel window, and the kernel index (co, ci, ky, kx) of each."""
    _, h, w = layer.in_shape
    _, oh, ow = layer.out_shape
    k, s, p = layer.kernel, layer.stride, layer.padding
    idx = np.arange(a, b)
    co, pos = idx // (oh * ow), idx % (oh * ow)
    y, x = pos // ow, pos % ow
    ci, apos = axons // (h * w), axons % (h * w)
    ky = (apos // w)[None, :] - (y * s - p)[:, None]
    kx = (apos % w)[None, :] - (x * s - p)[:, None]
    r, c = np.nonzero((ky >= 0) & (ky < k) & (kx >= 0) & (kx < k))
    return r, c, (co[r], ci[c], ky[r, c], kx[r, c])


def _conv_block(layer: IntegerLayer, a: int, b: int, axons: np.ndarray) -> np.ndarray:
    """Mantissas of neurons [a, b) of a conv layer onto the given axons (0 outside the window)."""
    r, c, key = _conv_taps(layer, a, b, axons)
    block = np.zeros((b - a, axons.size), np.int64)
    block[r, c] = layer.weight[key]
    return block


def write_corefile(path: str | os.PathLike[str], net: IntegerNetwork, mapping: Mapping) -> None:
    """Write ``net`` as placed by ``mapping`` (atomic: a temp file renamed into place)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with h5py.File(tmp, "w") as f:
        f.attrs.update({"format": FORMAT, "version": VERSION, "target": net.target.model_dump_json(),
                        "weight_bits": net.weight_bits, "input_shape": list(net.input_shape),
                        "num_classes": net.num_classes, "mapping": json.dumps(mapping.to_dict())})
        for i, layer in enumerate(net.layers):
            g = f.create_group(f"layers/{i}")
            g.attrs.update({"kind": layer.kind, "in_shape": list(layer.in_shape), "out_shape": list(layer.out_shape),
                            "kernel": layer.kernel, "stride": layer.stride, "padding": layer.padding,
                            "pool_folded": layer.pool_folded, "scale": layer.scale,
                            "cores": [c.core for c in mapping.layer_cores(i + 1)],
                            "reset": layer.reset, "linear": int(layer.linear)})
            if layer.adapt_jump is not None:
                g.attrs.update({"adapt_decay": layer.adapt_decay, "adapt_jump": layer.adapt_jump})
        for core in mapping.cores:
            layer = net.layers[core.layer - 1]
            mask = mapping.axon_masks[core.layer - 1][core.core - mapping.layer_cores(core.layer)[0].core]
            axons = np.flatnonzero(mask).astype(np.int32)
            a, b = core.neuron_start, core.neuron_stop
            block = layer.weight[a:b][:, axons] if layer.kind == "dense" else _conv_block(layer, a, b, axons)
            g = f.create_group(f"cores/{core.core}")
            g.attrs.update({"layer": core.layer - 1, "neuron_start": a, "neuron_stop": b,
                            "weight_exp": layer.weight_exp, "du": layer.du, "dv": layer.dv, "vth": layer.vth,
                            "bias_exp": layer.bias_exp})
            g.create_dataset("axons", data=axons)
            g.create_dataset("weights", data=block.astype(np.int16), compression="gzip")
            if layer.bias_mant is not None:
                per = layer.num_neurons // layer.bias_mant.size
                g.create_dataset("bias_mant", data=np.repeat(layer.bias_mant, per)[a:b].astype(np.int32))
            if layer.recurrent is not None:
                g.create_dataset("recurrent_weights", data=layer.recurrent[a:b].astype(np.int16), compression="gzip")
    os.replace(tmp, path)


def _one(values: set, what: str, layer: int, path: Path) -> int:
    if len(values) != 1:
        raise ExportError(f"{path}: layer {layer + 1}: cores disagree on {what} ({sorted(values)})")
    return int(next(iter(values)))


def read_corefile(path: str | os.PathLike[str]) -> IntegerNetwork:
    """Rebuild the :class:`IntegerNetwork` from a core file's cores."""
    path = Path(path)
    f = open_hdf5(path, "HDF5 core file")
    with f:
        if f.attrs.get("format") != FORMAT:
            raise ExportError(f"{path}: not a {FORMAT} file (format {f.attrs.get('format')!r})")
        target = Target.model_validate_json(f.attrs["target"])
        cores = [f["cores"][k] for k in sorted(f["cores"], key=int)]
        layers = []
        for i in range(len(f["layers"])):
            meta = f["layers"][str(i)].attrs
            mine = [c for c in cores if int(c.attrs["layer"]) == i]
            kind = str(meta["kind"])
            in_shape, out_shape = tuple(int(v) for v in meta["in_shape"]), tuple(int(v) for v in meta["out_shape"])
            n_in, n_out = int(np.prod(in_shape)), int(np.prod(out_shape))
            k = int(meta["kernel"])
            weight = (np.zeros((n_out, n_in), np.int64) if kind == "dense"
                      else np.zeros((out_shape[0], in_shape[0], k, k), np.int64))
            seen = None if kind == "dense" else np.zeros(weight.shape, bool)
            bias = np.zeros(n_out, np.int64)
            rec = np.zeros((n_out, n_out), np.int64) if any("recurrent_weights" in c for c in mine) else None
            has_bias = False
            for c in mine:
                a, b = int(c.attrs["neuron_start"]), int(c.attrs["neuron_stop"])
                axons = c["axons"][()].astype(np.int64)
                block = c["weights"][()].astype(np.int64)
                if kind == "dense":
                    weight[a:b][:, axons] = block
                else:
                    tmp = IntegerLayer(kind, in_shape, out_shape, weight, 0, 0, 0, 0, kernel=k,
                                       stride=int(meta["stride"]), padding=int(meta["padding"]))
                    _scatter_conv(tmp, a, b, axons, block, seen, path, i)
                if "bias_mant" in c:
                    has_bias = True
                    bias[a:b] = c["bias_mant"][()]
                if rec is not None:
                    rec[a:b] = c["recurrent_weights"][()]
            bias_mant = None
            if has_bias:
                bias_mant = bias if kind == "dense" else bias.reshape(out_shape[0], -1)[:, 0].copy()
            attr = lambda name: _one({int(c.attrs[name]) for c in mine}, name, i, path)  # noqa: E731
            layers.append(IntegerLayer(
                kind=kind, in_shape=in_shape, out_shape=out_shape, weight=weight, weight_exp=attr("weight_exp"),
                du=attr("du"), dv=attr("dv"), vth=attr("vth"), bias_mant=bias_mant, bias_exp=attr("bias_exp"),
                kernel=k, stride=int(meta["stride"]), padding=int(meta["padding"]), scale=float(meta["scale"]),
                pool_folded=int(meta["pool_folded"]), recurrent=rec, reset=str(meta.get("reset", "hard")),
                linear=bool(meta.get("linear", 0)), adapt_decay=int(meta.get("adapt_decay", 0)),
                adapt_jump=int(meta["adapt_jump"]) if "adapt_jump" in meta else None))
        return IntegerNetwork(layers, tuple(int(v) for v in f.attrs["input_shape"]), target,
                              int(f.attrs["weight_bits"]), int(f.attrs["num_classes"]))


def _scatter_conv(layer: IntegerLayer, a: int, b: int, axons: np.ndarray, block: np.ndarray,
                  seen: np.ndarray, path: Path, i: int) -> None:
    """Write a core's block back into the shared conv kernel, checking agreement."""
    r, c, key = _conv_taps(layer, a, b, axons)
    vals = block[r, c]
    old = layer.weight[key]
    layer.weight[key] = vals
    if (seen[key] & (old != vals)).any() or (layer.weight[key] != vals).any():
        raise ExportError(f"{path}: layer {i + 1}: cores disagree on the shared conv kernel")
    seen[key] = True
