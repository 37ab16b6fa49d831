"""bp equals an independent autograd reference: hand-written rate / LIF forward passes with
torch functional ops and ``F.cross_entropy`` averaged over batch and time."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from spikelocal.config import LayerConfig, NetworkConfig, NeuronConfig
from spikelocal.core.network import Network
from spikelocal.rules.bp import BPOptions, BPRule


def _net(kind: str, neuron: str, reset: str = "hard", bias: bool = True) -> Network:
    neuron_cfg = NeuronConfig(kind=neuron, reset=reset, tau_syn=3e-3, tau_mem=6e-3)
    if kind == "dense":
        layers = [LayerConfig(kind="dense", units=12, bias=bias), LayerConfig(kind="dense", units=9, bias=bias),
                  LayerConfig(kind="dense", units=3, bias=bias)]
        shape = (1, 4, 4)
    else:
        layers = [LayerConfig(kind="conv", channels=4, kernel=3, padding=1, pool=2, bias=bias),
                  LayerConfig(kind="dense", units=3, bias=bias)]
        shape = (2, 6, 6)
    cfg = NetworkConfig(neuron=neuron_cfg, layers=layers, weight_scale=3.0,
                        readout={"output_scale": 2.0})
    net = Network.from_config(cfg, shape, 3, seed=1)
    if neuron == "lif":  # a positive shift so that every layer spikes, none saturates
        with torch.no_grad():
            for layer in net.layers:
                layer.weight.add_(0.05 if kind == "dense" else 0.03)
    return net


def _spike(u: torch.Tensor, slope: float) -> torch.Tensor:
    """Heaviside forward; backward 1/(slope|u|+1)^2, the derivative of u/(1+slope|u|)."""
    smooth = u / (1 + slope * u.abs())
    return (u > 0).float() + smooth - smooth.detach()


def _reference(net: Network, x: torch.Tensor, y: torch.Tensor, window="step") -> list[torch.Tensor]:
    """Gradient through time, by autograd, of 1/(B T) times either sum_{t,b} CE(z_L(t), y)
    (``step``) or sum_{w,b} |w| CE(mean_{t in w} z_L(t), y) over loss windows of W steps
    (``sample``: W = T), with z_L = output_scale * s_L."""
    steps, b = x.shape[:2]
    chunk = steps if window == "sample" else window
    chunk_logits: list[torch.Tensor] = []
    neuron = net.layers[0].neuron
    states = [(torch.zeros(b, *l.out_shape), torch.zeros(b, *l.out_shape)) for l in net.layers]
    total = 0.0
    for t in range(steps):
        inp = x[t]
        for i, layer in enumerate(net.layers):
            w, bias = layer.weight, layer.bias
            if layer.kind == "dense":
                cur = inp.reshape(b, -1) @ w.t()
            else:
                cur = F.conv2d(inp, w, padding=layer.cfg.padding)
            if neuron.spiking:
                syn, mem = states[i]
                syn = neuron.alpha * syn + cur
                mem = neuron.beta * mem + syn
                if bias is not None:
                    mem = mem + (bias.view(-1, 1, 1) if mem.dim() == 4 else bias)
                s = _spike(mem - neuron.threshold, neuron.slope)
                reset = mem * s if neuron.hard_reset else neuron.threshold * s
                states[i] = (syn, mem - reset.detach())
                out = s
            else:
                a = cur + (bias.view(-1, 1, 1) if cur.dim() == 4 else bias)
                out = torch.relu(a) if i < len(net.layers) - 1 else a
            if layer.kind == "conv" and layer.cfg.pool > 1:
                out = F.avg_pool2d(out, layer.cfg.pool) * layer.cfg.pool ** 2
            inp = out
        logits = inp.reshape(b, -1) @ net.layers[-1].readout.t()
        if window == "step":
            total = total + F.cross_entropy(logits, y, reduction="sum")
            continue
        chunk_logits.append(logits)
        if len(chunk_logits) == chunk or t == steps - 1:
            k = len(chunk_logits)
            total = total + k * F.cross_entropy(torch.stack(chunk_logits).mean(0), y, reduction="sum")
            chunk_logits = []
    params = [p for layer in net.layers for p in (layer.weight, layer.bias) if p is not None]
    return list(torch.autograd.grad(total / (b * steps), params))


@pytest.mark.parametrize("window", ["step", "sample", 2, 5])
@pytest.mark.parametrize("kind", ["dense", "conv"])
@pytest.mark.parametrize("neuron,reset", [("lif", "hard"), ("lif", "subtract"), ("relu", "hard")])
def test_bp_equals_autograd_reference(kind, neuron, reset, window):
    torch.manual_seed(0)
    net = _net(kind, neuron, reset)
    steps = 7 if neuron == "lif" else 1   # chunks of 3, 3 and 1 steps
    x = (torch.rand(steps, 5, *net.input_shape) < 0.5).float() if neuron == "lif" else torch.rand(1, 5, *net.input_shape)
    y = torch.tensor([0, 1, 2, 1, 0])
    rule = BPRule(net, BPOptions(window=window), seed=0)
    result = rule.compute_updates(iter(x.split(3)), y, [True] * len(net.layers))
    ref = _reference(net, x, y, window)
    assert all(c.sum() > 0 for c in result.spike_counts)
    ours = [p.grad for layer in net.layers for p in (layer.weight, layer.bias) if p is not None]
    for got, want in zip(ours, ref):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
    assert any(g.abs().sum() > 0 for g in ours[:-2])  # the error reached the hidden layers
    assert len(result.logits) == len(net.layers) and result.logits[-1].shape == (5, 3)


def test_bp_leaves_inactive_layers_at_zero():
    torch.manual_seed(0)
    net = _net("dense", "lif")
    x = (torch.rand(12, 4, *net.input_shape) < 0.5).float()
    y = torch.tensor([0, 1, 2, 1])
    BPRule(net, BPOptions(), seed=0).compute_updates(iter(x.split(2)), y, [False, True, True])
    assert net.layers[0].weight.grad.abs().sum() == 0
    assert net.layers[1].weight.grad.abs().sum() + net.layers[2].weight.grad.abs().sum() > 0


def test_lif_forward_matches_snntorch_synaptic():
    """The network bp differentiates steps exactly like snnTorch's Synaptic neuron with a
    hard reset applied in the same step (the comparison in bench/snntorch_bptt_compare.py)."""
    snn = pytest.importorskip("snntorch")
    from snntorch import surrogate

    net = _net("dense", "lif", bias=False)
    nrn = net.layers[0].neuron
    torch.manual_seed(1)
    x = (torch.rand(9, 5, 16) < 0.5).float()
    lifs = [snn.Synaptic(alpha=nrn.alpha, beta=nrn.beta, threshold=nrn.threshold,
                         spike_grad=surrogate.fast_sigmoid(slope=nrn.slope),
                         reset_mechanism="zero", reset_delay=False) for _ in net.layers]
    states = [lif.reset_mem() for lif in lifs]
    theirs = []
    with torch.no_grad():
        for t in range(x.shape[0]):
            h = x[t]
            for i, (layer, lif) in enumerate(zip(net.layers, lifs)):
                h, *states[i] = lif(h @ layer.weight.t(), *states[i])
            theirs.append(h)
        ours_states = net.init_states(5)
        inp = x.view(9, 5, 1, 4, 4)
        for i, layer in enumerate(net.layers):
            inp = layer.step(inp, ours_states[i]).pooled
    assert torch.equal(inp, torch.stack(theirs))
    assert inp.sum() > 0
