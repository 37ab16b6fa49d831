"""Core mapping checked against brute force: axon unions, fewest cores, every limit, errors."""
from __future__ import annotations

import itertools
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import yaml

from spikelocal.errors import ExportError
from spikelocal.hardware import IntegerLayer, IntegerNetwork, load_target, map_network
from spikelocal.hardware.targets import TARGET_DIR


def chip(tmp_path: Path, **changes):
    raw = yaml.safe_load((TARGET_DIR / "loihi.yaml").read_text())
    raw.update(changes)
    path = tmp_path / "chip.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_target(path)


def conv(in_shape, cout, k, s, p) -> IntegerLayer:
    cin, h, w = in_shape
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    weight = np.full((cout, cin, k, k), 2, np.int64)
    return IntegerLayer("conv", in_shape, (cout, oh, ow), weight, 0, 0, 0, 1, kernel=k, stride=s, padding=p)


def brute_axons(layer: IntegerLayer, a: int, b: int) -> set[int]:
    """Inputs read by neurons [a, b), by walking every kernel tap."""
    cin, h, w = layer.in_shape
    _, oh, ow = layer.out_shape
    seen = set()
    for n in range(a, b):
        y, x = (n % (oh * ow)) // ow, n % ow
        for ci, ky, kx in itertools.product(range(cin), range(layer.kernel), range(layer.kernel)):
            iy, ix = y * layer.stride - layer.padding + ky, x * layer.stride - layer.padding + kx
            if 0 <= iy < h and 0 <= ix < w:
                seen.add(ci * h * w + iy * w + ix)
    return seen


@pytest.mark.parametrize("k,s,p", [(3, 1, 1), (2, 3, 0), (5, 2, 2)])  # (2, 3): gaps between windows
def test_conv_axons_are_the_union_of_receptive_fields(tmp_path: Path, k, s, p):
    layer = conv((2, 9, 9), 3, k, s, p)
    target = chip(tmp_path, neurons_per_core=7)
    m = map_network(IntegerNetwork([layer], (2, 9, 9), target, 8, 3), target)
    assert sum(c.neurons for c in m.cores) == layer.num_neurons and all(c.neurons <= 7 for c in m.cores)
    for core, mask in zip(m.cores, m.axon_masks[0]):
        want = brute_axons(layer, core.neuron_start, core.neuron_stop)
        assert set(np.flatnonzero(mask).tolist()) == want and core.input_axons == len(want)
        assert core.synapses == sum(len(brute_axons(layer, n, n + 1)) for n in range(core.neuron_start, core.neuron_stop))


def test_fewest_contiguous_cores(tmp_path: Path):
    """The packer's core count equals the optimum over all contiguous splits (dynamic programme)."""
    layer = conv((1, 8, 8), 2, 3, 1, 1)  # 128 neurons
    target = chip(tmp_path, input_axons_per_core=20, neurons_per_core=40)
    m = map_network(IntegerNetwork([layer], (1, 8, 8), target, 8, 2), target)
    n = layer.num_neurons

    @lru_cache(None)
    def best(a: int) -> int:
        if a == n:
            return 0
        return min(1 + best(b) for b in range(a + 1, n + 1)
                   if b - a <= 40 and len(brute_axons(layer, a, b)) <= 20)

    assert m.cores_used == best(0)
    assert all(c.input_axons <= 20 for c in m.cores)


def test_every_limit_holds_on_a_mixed_network(tmp_path: Path):
    target = chip(tmp_path, neurons_per_core=100, input_axons_per_core=300, output_axons_per_core=260,
                  synapse_memory_bytes=6000)
    c1 = conv((1, 16, 16), 8, 3, 1, 1)
    c2 = conv((8, 16, 16), 8, 3, 2, 1)
    d = IntegerLayer("dense", (8 * 8 * 8,), (10,), np.ones((10, 512), np.int64), 0, 0, 0, 1)
    with pytest.raises(ExportError, match=r"layer 3 \(dense\): fan-in 512 exceeds the 300 input axons"):
        map_network(IntegerNetwork([c1, c2, d], (1, 16, 16), target, 8, 10), target)
    d = IntegerLayer("dense", (8 * 8 * 8,), (10,), np.ones((10, 512), np.int64), 0, 0, 0, 1)
    target = chip(tmp_path, neurons_per_core=100, input_axons_per_core=600, output_axons_per_core=260,
                  synapse_memory_bytes=6000)
    m = map_network(IntegerNetwork([c1, c2, d], (1, 16, 16), target, 8, 10), target)
    for c in m.cores:
        assert c.neurons <= 100 and c.input_axons <= 600 and c.output_axons <= 260
        assert c.synapse_bytes <= 6000
    # output axons of layer 2 = its neurons x the layer-3 cores reading them (every one here)
    l3 = len(m.layer_cores(3))
    assert all(c.output_axons == c.neurons * l3 for c in m.layer_cores(2))
    report = m.to_dict()
    assert [row["cores"] for row in report["layers"]] == [len(m.layer_cores(i)) for i in (1, 2, 3)]
    assert report["fits_one_chip"] and report["chips_needed"] == 1


def test_too_many_destinations_is_refused(tmp_path: Path):
    # layer 2 needs 20 cores (memory), every layer-1 neuron feeds all 20: above 16 output axons
    target = chip(tmp_path, output_axons_per_core=16, synapse_memory_bytes=64)
    l1 = IntegerLayer("dense", (4,), (8,), np.ones((8, 4), np.int64), 0, 0, 0, 1)
    l2 = IntegerLayer("dense", (8,), (160,), np.ones((160, 8), np.int64), 0, 0, 0, 1)
    with pytest.raises(ExportError, match=r"layer 1 \(dense\): a neuron reaches 20 cores of the next layer, "
                                          r"above the 16 output axons"):
        map_network(IntegerNetwork([l1, l2], (4,), target, 8, 160), target)


def test_a_network_larger_than_a_chip_is_reported_not_refused():
    target = load_target("loihi")
    layer = IntegerLayer("dense", (100,), (140 * 1024,), np.zeros((1, 1), np.int64), 0, 0, 0, 1)
    layer.weight = np.broadcast_to(np.int64(2), (140 * 1024, 100))
    m = map_network(IntegerNetwork([layer], (100,), target, 8, 10), target)
    assert m.cores_used == 140 and not m.fits_one_chip and m.to_dict()["chips_needed"] == 2


def test_large_conv_layer_maps_quickly():
    target = load_target("loihi")
    c1 = conv((2, 64, 64), 32, 5, 1, 2)  # 131 072 neurons
    t0 = time.perf_counter()
    m = map_network(IntegerNetwork([c1], (2, 64, 64), target, 8, 10), target)
    assert time.perf_counter() - t0 < 5
    assert m.cores_used == 128 and all(c.neurons == 1024 for c in m.cores)
