"""Placing the neurons of an :class:`IntegerNetwork` on cores within every per-core limit.

Each layer's neurons (flattened in C, H, W order) are split into contiguous ranges, one per
core, such that every core holds

    neurons        <= neurons_per_core
    input axons    <= input_axons_per_core   (the union of its neurons' receptive fields:
                                              the full fan-in for dense, a window for conv)
    synapse memory <= synapse_memory_bytes   (synapses * (weight_bits + overhead) / 8)
    output axons   <= output_axons_per_core  (one per (neuron, destination core) it reaches;
                                              one per neuron, to the host, for the last layer)

Every one of these grows when a range is extended, so packing neurons greedily (each core
takes the longest range that still fits, found by bisection) gives the fewest contiguous
cores; the ranges are then evened out when an equal split with as many cores also fits.
Output axons depend on the next layer's split, so layers are placed from the last one back.
A recurrent layer's neurons are also axons of their own layer: each core of it receives all
N of them (N more synapses per neuron) and each neuron sends one output axon to every core of
its layer; that count depends on the layer's own split, so the split is repeated with the
number of cores it found until that number no longer grows.
A layer that no split can hold, because a single neuron already breaks a limit (its fan-in
above the input axons, its synapses above the memory, its destinations above the output
axons), is an :class:`ExportError` naming the layer and the limit.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Optional

import numpy as np

from ..errors import ExportError
from .fixed_point import IntegerLayer, IntegerNetwork
from .targets import Target

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
            self.rows, self.cols = self._span(oh, h), self._span(ow, w)
            per_pos = np.outer(self.rows[1] - self.rows[0], self.cols[1] - self.cols[0]) * cin
            self.fan_in = np.tile(per_pos.ravel(), layer.out_shape[0])
        self.own = n if layer.recurrent is not None else 0  # recurrent axons: the layer's own neurons
        self.fan_in = self.fan_in + self.own
        self.cum = np.concatenate([[0], np.cumsum(self.fan_in)])
        self._full: Optional[np.ndarray] = None

    def _span(self, out: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """[start, stop) of the valid input rows each output row reads."""
        lay = self.layer
        lo = np.arange(out) * lay.stride - lay.padding
        return np.clip(lo, 0, size), np.clip(lo + lay.kernel, 0, size)

    def synapses(self, a: int, b: int) -> int:
        return int(self.cum[b] - self.cum[a])

    def _spatial(self, a: int, b: int) -> np.ndarray:
        """Input pixels [H, W] read by neurons [a, b) (a 2-D difference array of their windows)."""
        _, h, w = self.layer.in_shape
        _, oh, ow = self.layer.out_shape
        full = b - a >= oh * ow  # every output position: the same pixels for any such range
        if full and self._full is not None:
            return self._full
        pos = np.arange(oh * ow) if full else np.arange(a, b) % (oh * ow)
        y, x = pos // ow, pos % ow
        r0, r1, c0, c1 = self.rows[0][y], self.rows[1][y], self.cols[0][x], self.cols[1][x]
        d = np.zeros((h + 1, w + 1), np.int32)
        np.add.at(d, (r0, c0), 1)
        np.add.at(d, (r0, c1), -1)
        np.add.at(d, (r1, c0), -1)
        np.add.at(d, (r1, c1), 1)
        cover = d.cumsum(0).cumsum(1)[:h, :w] > 0
        if full:
            self._full = cover
        return cover

    def axons(self, a: int, b: int) -> int:
        if self.layer.kind == "dense":
            return self.layer.num_inputs + self.own
        return int(self._spatial(a, b).sum()) * self.layer.in_shape[0] + self.own

    def axon_mask(self, a: int, b: int) -> np.ndarray:
        lay = self.layer
        if lay.kind == "dense":
            return np.ones(lay.num_inputs, bool)
        return np.broadcast_to(self._spatial(a, b), lay.in_shape).ravel()


def _split(n: int, parts: int) -> list[tuple[int, int]]:
    edges = np.linspace(0, n, parts + 1).round().astype(int)
    return [(int(edges[i]), int(edges[i + 1])) for i in range(parts)]


class _Packer:
    """Does a range of one layer's neurons fit a core? (all four limits of the module docstring)"""

    def __init__(self, geo: _Geometry, out_per_neuron: np.ndarray, t: Target, bits: int) -> None:
        self.geo, self.t, self.per_syn = geo, t, bits + t.synapse_overhead_bits
        self.out_cum = np.concatenate([[0], np.cumsum(out_per_neuron)])

    def synapse_bytes(self, a: int, b: int) -> int:
        return math.ceil(self.geo.synapses(a, b) * self.per_syn / 8)

    def output_axons(self, a: int, b: int) -> int:
        return int(self.out_cum[b] - self.out_cum[a])

    def fits(self, a: int, b: int) -> bool:
        t = self.t
        return (b - a <= t.neurons_per_core and self.synapse_bytes(a, b) <= t.synapse_memory_bytes
                and self.output_axons(a, b) <= t.output_axons_per_core
                and self.geo.axons(a, b) <= t.input_axons_per_core)

    def greedy(self) -> list[tuple[int, int]]:
        """Fewest contiguous ranges: each core takes the longest range that fits (bisection)."""
        n, ranges, a = self.geo.layer.num_neurons, [], 0
        while a < n:
            lo, hi = a + 1, min(n, a + self.t.neurons_per_core)  # fits(a, lo) holds (checked per neuron)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if self.fits(a, mid):
                    lo = mid
                else:
                    hi = mid - 1
            ranges.append((a, lo))
            a = lo
        return ranges


def _check_neurons(name: str, geo: _Geometry, pack: _Packer, out_per_neuron: np.ndarray, t: Target) -> None:
    """One-line errors for a layer whose single neurons already break a per-core limit."""
    worst = int(geo.fan_in.max())
    if worst > t.input_axons_per_core:
        raise ExportError(f"{name}: fan-in {worst} exceeds the {t.input_axons_per_core} input axons of a "
                          f"{t.name} core")
    need = math.ceil(worst * pack.per_syn / 8)
    if need > t.synapse_memory_bytes:
        raise ExportError(f"{name}: one neuron's {worst} synapses need {need} bytes, above the "
                          f"{t.synapse_memory_bytes} bytes of synapse memory of a {t.name} core")
    reach = int(out_per_neuron.max(initial=0))
    if reach > t.output_axons_per_core:
        raise ExportError(f"{name}: a neuron reaches {reach} cores of the next layer, above the "
                          f"{t.output_axons_per_core} output axons of a {t.name} core")


def map_network(net: IntegerNetwork, target: Optional[Target] = None) -> Mapping:
    """Fewest cores per layer within every per-core limit (module docstring)."""
    t = target or net.target
    bits = net.weight_bits
    geos = [_Geometry(layer) for layer in net.layers]
    splits: list[list[tuple[int, int]]] = [[] for _ in net.layers]
    masks: list[list[np.ndarray]] = [[] for _ in net.layers]
    outs: list[np.ndarray] = [np.zeros(0, np.int64) for _ in net.layers]
    for i in range(len(net.layers) - 1, -1, -1):
        layer, geo = net.layers[i], geos[i]
        name = f"layer {i + 1} ({layer.kind})"
        n = layer.num_neurons
        if i + 1 < len(net.layers):  # one output axon per destination core whose window holds the neuron
            if math.prod(net.layers[i + 1].in_shape) != n:
                raise ExportError(f"{name}: {n} neurons, but layer {i + 2} reads {net.layers[i + 1].num_inputs} axons")
            outs[i] = np.sum(masks[i + 1], axis=0, dtype=np.int64)
        else:  # the last layer sends every neuron's spikes to the host
            outs[i] = np.ones(n, np.int64)
        base, own = outs[i], 1 if geo.own else 0
        while True:
            outs[i] = base + own
            pack = _Packer(geo, outs[i], t, bits)
            _check_neurons(name, geo, pack, outs[i], t)
            ranges = pack.greedy()
            even = _split(n, len(ranges))
            if all(pack.fits(a, b) for a, b in even):
                ranges = even
            if len(ranges) <= own or not geo.own:
                break
            own = len(ranges)
        splits[i] = ranges
        masks[i] = [geo.axon_mask(a, b) for a, b in ranges]
    cores: list[CoreUse] = []
    for i, ranges in enumerate(splits):
        pack = _Packer(geos[i], outs[i], t, bits)
        for (a, b), mask in zip(ranges, masks[i]):
            cores.append(CoreUse(len(cores), i + 1, a, b, int(mask.sum()) + geos[i].own, pack.output_axons(a, b),
                                 geos[i].synapses(a, b), pack.synapse_bytes(a, b)))
    return Mapping(t, bits, cores, masks)
