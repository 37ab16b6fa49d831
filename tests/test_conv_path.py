"""The fast conv path computes what the plain formulas compute, and the memory budget's
sub-batches leave the local rule's updates unchanged."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from spikelocal.config import NetworkConfig
from spikelocal.core import memory
from spikelocal.core.layers import CHANNELS_LAST_MIN
from spikelocal.core.network import Network
from spikelocal.rules import RULES


def _net(seed: int = 0) -> Network:
    cfg = NetworkConfig(neuron={"kind": "lif", "surrogate": {"kind": "fast_sigmoid", "slope": 1}}, layers=[
        {"kind": "conv", "channels": CHANNELS_LAST_MIN, "kernel": 3, "padding": 1, "pool": 2},
        {"kind": "conv", "channels": 6, "kernel": 3, "padding": 1, "pool": 2},
        {"kind": "dense", "units": 4}])
    return Network.from_config(cfg, (1, 8, 8), 4, seed=seed)


def test_conv_products_equal_the_plain_convolutions():
    layer = _net().layers[1]          # 8 input channels: the channels-last path
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand((6, *layer.in_shape), generator=gen) < 0.3).float()
    delta = torch.randn((6, *layer.out_shape), generator=gen)
    want = F.conv2d(x, layer.weight, padding=1)
    got = layer.synapse(x)
    assert got.is_contiguous()
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    want_grad = torch.nn.grad.conv2d_weight(x, layer.weight.shape, delta, padding=1)
    torch.testing.assert_close(layer.weight_grad(x, delta), want_grad, rtol=1e-5, atol=1e-5)


def test_sum_pooling_and_its_adjoint_match_the_reference_operations():
    layer = _net().layers[0]
    spikes = (torch.rand((5, *layer.out_shape)) < 0.4).float()
    assert torch.equal(layer.pool(spikes), F.avg_pool2d(spikes, 2) * 4)
    grad = torch.randn((5, *layer.pooled_shape))
    assert torch.equal(layer.pool_adjoint(grad), grad.repeat_interleave(2, -2).repeat_interleave(2, -1))


def _train(budget: float | None, steps: int = 8, chunk: int = 4) -> tuple[list[torch.Tensor], list[float]]:
    net = _net()
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.mul_(40.0)     # an untrained net hardly spikes: make every layer active
    rule_cls = RULES.get("local")
    rule = rule_cls(net, rule_cls.Options(name="local"), seed=0)
    rule.memory_budget_mb = budget
    gen = torch.Generator().manual_seed(3)
    x = (torch.rand((steps, 10, 1, 8, 8), generator=gen) < 0.5).float()
    y = torch.randint(0, 4, (10,), generator=gen)
    result = rule.compute_updates(torch.split(x, chunk), y, [True] * 3)
    assert all(float(c.sum()) > 0 for c in result.spike_counts[:2])
    return [p.grad.clone() for p in net.parameters()], result.losses


def test_sub_batches_give_the_updates_of_the_whole_batch():
    whole, losses = _train(None)
    per_sample = memory.bytes_per_sample_step(_net().layers) * 4
    budget = 3.5 * per_sample / 2**20          # three samples per sub-batch: 4 parts
    assert len(memory.splits(10, memory.sub_batch(_net().layers, 4, 10, budget))) == 4
    split, split_losses = _train(budget)
    for got, want in zip(split, whole):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    assert split_losses == pytest.approx(losses, rel=1e-6)


def test_the_budget_picks_the_largest_sub_batch_that_fits():
    layers = _net().layers
    per = memory.bytes_per_sample_step(layers)
    assert memory.sub_batch(layers, 25, 128, None) == 128
    assert memory.sub_batch(layers, 25, 128, 1e6) == 128
    assert memory.sub_batch(layers, 25, 128, per * 25 * 40 / 2**20) == 40
    assert memory.sub_batch(layers, 25, 128, 1e-9) == 1
    parts = memory.splits(128, 40)
    assert [p.stop - p.start for p in parts] == [32, 32, 32, 32]


def test_the_default_budget_splits_the_large_conv_net():
    """The 64-128 channel 7x7 net at T = 25, batch 128 needs sub-batches under the default."""
    cfg = NetworkConfig(neuron={"kind": "lif"}, layers=[
        {"kind": "conv", "channels": 64, "kernel": 7, "padding": 3, "pool": 2},
        {"kind": "conv", "channels": 128, "kernel": 7, "padding": 3, "pool": 2},
        {"kind": "dense", "units": 10}])
    layers = Network.from_config(cfg, (1, 28, 28), 10, seed=0).layers
    size = memory.sub_batch(layers, 25, 128, memory.DEFAULT_BUDGET_MB)
    assert 1 < size < 128
    assert memory.bytes_per_sample_step(layers) * 25 * size <= memory.DEFAULT_BUDGET_MB * 2**20
    mlp = copy.deepcopy(cfg)
    mlp.layers = mlp.layers[2:]
    small = Network.from_config(mlp, (784,), 10, seed=0).layers
    assert memory.sub_batch(small, 25, 128, memory.DEFAULT_BUDGET_MB) == 128
