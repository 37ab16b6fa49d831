"""Placing the neurons of an :class:`IntegerNetwork` on cores within every per-core limit.

Each layer's neurons (flattened in C, H, W order) are split into contiguous, nearly equal
ranges, one per core; a layer takes the fewest cores for which every core holds

    neurons        <= neurons_per_core
    input axons    <= input_axons_per_core   (the union of its neurons' receptive fields:
                                              the full fan-in for dense, a window for conv)
    synapse memory <= synapse_memory_bytes   (synapses * (weight_bits + overhead) / 8)
    output axons   <= output_axons_per_core  (one per (neuron, destination core) it reaches)

Output axons depend on the next layer's split, so layers are mapped input side first and
then, from the last layer back, a layer whose cores send too many output axons takes more
cores. Synapses of a conv neuron whose window overlaps the padding are not stored. A layer
no split can hold (one neuron's fan-in above the axon limit, its synapses above the memory,
its destinations above the output axons) is an :class:`ExportError` naming layer and limit.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Optional

import numpy as np

from ..errors import ExportError
from .fixed_point import IntegerLayer, IntegerNetwork
from .targets import Target

_MAX_SEARCH = 4096


@dataclass
class CoreUse:
    core: int
    layer: int              # 1-based
    neuron_start: int
    neuron_stop: int
    input_axons: int
    output_axons: int
    synapses: int
    synapse_bytes: int

    @property
    def neurons(self) -> int:
        return self.neuron_stop - self.neuron_start


@dataclass
class Mapping:
    target: Target
    weight_bits: int
    cores: list[CoreUse]
    axon_masks: list[list[np.ndarray]]   # per layer, per core: bool mask over the layer's inputs

    @property
    def cores_used(self) -> int:
        return len(self.cores)

    @property
    def fits_one_chip(self) -> bool:
        return self.cores_used <= self.target.cores_per_chip

    def layer_cores(self, layer: int) -> list[CoreUse]:
        return [c for c in self.cores if c.layer == layer]

    def to_dict(self) -> dict[str, Any]:
        t = self.target
        layers = sorted({c.layer for c in self.cores})
        per_layer = []
        for l in layers:
            cs = self.layer_cores(l)
            per_layer.append({"layer": l, "cores": len(cs), "neurons": sum(c.neurons for c in cs),
                              "max_input_axons": max(c.input_axons for c in cs),
                              "max_output_axons": max(c.output_axons for c in cs),
                              "synapse_bytes": sum(c.synapse_bytes for c in cs)})
        cores = []
        for c in self.cores:
            row = asdict(c)
            row.update({"neurons": c.neurons,
                        "util_neurons": c.neurons / t.neurons_per_core,
                        "util_input_axons": c.input_axons / t.input_axons_per_core,
                        "util_output_axons": c.output_axons / t.output_axons_per_core,
                        "util_synapse_memory": c.synapse_bytes / t.synapse_memory_bytes})
            cores.append(row)
        mean = lambda key: float(np.mean([r[key] for r in cores])) if cores else 0.0  # noqa: E731
        return {"target": t.name, "weight_bits": self.weight_bits, "cores_used": self.cores_used,
                "cores_per_chip": t.cores_per_chip, "fits_one_chip": self.fits_one_chip,
                "chips_needed": math.ceil(self.cores_used / t.cores_per_chip),
                "mean_utilisation": {k[5:]: mean(k) for k in ("util_neurons", "util_input_axons",
                                                              "util_output_axons", "util_synapse_memory")},
                "layers": per_layer, "cores": cores}

    def table(self) -> str:
        """A plain-text table of the cores (one line each)."""
        t = self.target
        lines = [f"target {t.name}: {self.cores_used} cores, "
                 f"{'fits' if self.fits_one_chip else 'does not fit'} one chip of {t.cores_per_chip}",
                 f"{'core':>5} {'layer':>5} {'neurons':>12} {'in axons':>14} {'out axons':>14} {'synapse KiB':>16}"]
        for c in self.cores:
            lines.append(f"{c.core:>5} {c.layer:>5} {c.neurons:>5} ({c.neurons / t.neurons_per_core:4.0%})"
                         f" {c.input_axons:>6} ({c.input_axons / t.input_axons_per_core:4.0%})"
                         f" {c.output_axons:>6} ({c.output_axons / t.output_axons_per_core:4.0%})"
                         f" {c.synapse_bytes / 1024:>8.1f} ({c.synapse_bytes / t.synapse_memory_bytes:4.0%})")
        return "\n".join(lines) + "\n"


class _Geometry:
    """Receptive fields of one layer, answering per-range axon and synapse counts."""

    def __init__(self, layer: IntegerLayer) -> None:
        self.layer = layer
        n = layer.num_neurons
        if layer.kind == "dense":
            self.fan_in = np.full(n, layer.num_inputs, np.int64)
        else:
            cin, h, w = layer.in_shape
            _, oh, ow = layer.out_shape
            rows = self._span(oh, h)
            cols = self._span(ow, w)
            per_pos = np.outer(rows[1] - rows[0], cols[1] - cols[0]) * cin
            self.rows, self.cols = rows, cols
            self.fan_in = np.tile(per_pos.ravel(), layer.out_shape[0])
        self.cum = np.concatenate([[0], np.cumsum(self.fan_in)])

    def _span(self, out: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """[start, stop) of the valid input rows each output row reads."""
        lay = self.layer
        lo = np.arange(out) * lay.stride - lay.padding
        return np.clip(lo, 0, size), np.clip(lo + lay.kernel, 0, size)

    def synapses(self, a: int, b: int) -> int:
        return int(self.cum[b] - self.cum[a])

    def axon_mask(self, a: int, b: int) -> np.ndarray:
        lay = self.layer
        if lay.kind == "dense":
            return np.ones(lay.num_inputs, bool)
        cin, h, w = lay.in_shape
        _, oh, ow = lay.out_shape
        pos = np.zeros(oh * ow, bool)
        idx = np.arange(a, b) % (oh * ow)
        pos[idx] = True
        spatial = np.zeros((h, w), bool)
        for y, x in zip(*np.nonzero(pos.reshape(oh, ow))):
            spatial[self.rows[0][y]:self.rows[1][y], self.cols[0][x]:self.cols[1][x]] = True
        return np.broadcast_to(spatial, (cin, h, w)).ravel()


def _split(n: int, parts: int) -> list[tuple[int, int]]:
    edges = np.linspace(0, n, parts + 1).round().astype(int)
    return [(int(edges[i]), int(edges[i + 1])) for i in range(parts)]


def _fits_input(geo: _Geometry, ranges: list[tuple[int, int]], t: Target, bits: int) -> bool:
    per_syn = bits + t.synapse_overhead_bits
    for a, b in ranges:
        if b - a > t.neurons_per_core:
            return False
        if math.ceil(geo.synapses(a, b) * per_syn / 8) > t.synapse_memory_bytes:
            return False
        if int(geo.axon_mask(a, b).sum()) > t.input_axons_per_core:
            return False
    return True


def _out_axons(ranges: list[tuple[int, int]], next_masks: Optional[list[np.ndarray]]) -> list[int]:
    if next_masks is None:  # output layer: one axon per neuron, to the host
        return [b - a for a, b in ranges]
    cums = [np.concatenate([[0], np.cumsum(m)]) for m in next_masks]
    return [int(sum(c[b] - c[a] for c in cums)) for a, b in ranges]


def map_network(net: IntegerNetwork, target: Optional[Target] = None) -> Mapping:
    """Fewest cores per layer within every per-core limit (module docstring)."""
    t = target or net.target
    bits = net.weight_bits
    per_syn = bits + t.synapse_overhead_bits
    geos = [_Geometry(layer) for layer in net.layers]
    splits: list[list[tuple[int, int]]] = []
    for i, (layer, geo) in enumerate(zip(net.layers, geos)):
        name = f"layer {i + 1} ({layer.kind})"
        worst = int(geo.fan_in.max())
        if worst > t.input_axons_per_core:
            raise ExportError(f"{name}: fan-in {worst} exceeds the {t.input_axons_per_core} input axons of a "
                              f"{t.name} core")
        if math.ceil(worst * per_syn / 8) > t.synapse_memory_bytes:
            raise ExportError(f"{name}: one neuron's {worst} synapses need {math.ceil(worst * per_syn / 8)} bytes, "
                              f"above the {t.synapse_memory_bytes} bytes of synapse memory of a {t.name} core")
        n = layer.num_neurons
        parts = math.ceil(n / t.neurons_per_core)
        while not _fits_input(geo, _split(n, parts), t, bits):
            parts += 1
            if parts > min(n, _MAX_SEARCH):
                raise ExportError(f"{name}: no split of its {n} neurons fits the {t.input_axons_per_core} input "
                                  f"axons and {t.synapse_memory_bytes} bytes of a {t.name} core")
        splits.append(_split(n, parts))
    masks: list[list[np.ndarray]] = [[] for _ in net.layers]
    for i in range(len(net.layers) - 1, -1, -1):
        name = f"layer {i + 1} ({net.layers[i].kind})"
        nxt = masks[i + 1] if i + 1 < len(net.layers) else None
        if nxt is not None and len(nxt) > t.output_axons_per_core:
            raise ExportError(f"{name}: its neurons reach {len(nxt)} cores, above the {t.output_axons_per_core} "
                              f"output axons of a {t.name} core")
        parts = len(splits[i])
        while max(_out_axons(splits[i], nxt)) > t.output_axons_per_core:
            parts += 1
            splits[i] = _split(net.layers[i].num_neurons, parts)
        masks[i] = [geos[i].axon_mask(a, b) for a, b in splits[i]]
    cores: list[CoreUse] = []
    for i, ranges in enumerate(splits):
        nxt = masks[i + 1] if i + 1 < len(net.layers) else None
        outs = _out_axons(ranges, nxt)
        for (a, b), mask, out in zip(ranges, masks[i], outs):
            syn = geos[i].synapses(a, b)
            cores.append(CoreUse(len(cores), i + 1, a, b, int(mask.sum()), out, syn, math.ceil(syn * per_syn / 8)))
    return Mapping(t, bits, cores, masks)
