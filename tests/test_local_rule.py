"""The local rule's update equals the autograd gradient of each layer's local loss when the
layer's input is detached (same surrogate, reset excluded from the gradient)."""
from __future__ import annotations

import pytest
import torch

from spikelocal.config import LayerConfig, NetworkConfig, NeuronConfig
from spikelocal.losses import LOSSES
from spikelocal.core.network import Network
from spikelocal.rules.local import LocalOptions, LocalRule


def _net(kind: str, neuron: str, reset: str = "hard", bias: bool = True) -> Network:
    neuron_cfg = NeuronConfig(kind=neuron, reset=reset, tau_syn=3e-3, tau_mem=6e-3)
    if kind == "dense":
        layers = [LayerConfig(kind="dense", units=12, bias=bias), LayerConfig(kind="dense", units=3, bias=bias)]
        shape = (1, 4, 4)
    else:
        layers = [LayerConfig(kind="conv", channels=4, kernel=3, padding=1, pool=2, bias=bias),
                  LayerConfig(kind="dense", units=3, bias=bias)]
        shape = (2, 6, 6)
    cfg = NetworkConfig(neuron=neuron_cfg, layers=layers, weight_scale=3.0)
    return Network.from_config(cfg, shape, 3, seed=1)


def _autograd_reference(net: Network, x: torch.Tensor, y: torch.Tensor, loss: str, window):
    """Per layer: autograd gradient of the local loss with the layer input detached.

    A loss window of W steps (1 for ``step``, T for ``sample``): sum over windows w of
    |w| * loss(G mean_w r), averaged over b and divided by T. The whole sequence is one
    differentiable pass, so the reference knows nothing of chunks."""
    loss_fn = LOSSES.get(loss)
    grads = []
    inp = x
    k, b = x.shape[:2]
    w = {"step": 1, "sample": k}.get(window, window)
    for layer in net.layers:
        state = layer.neuron.init_state((b, *layer.out_shape), x.device)
        act = layer.step(inp.detach(), state, differentiable=True).pooled
        total = 0.0
        for start in range(0, k, w):
            part = act[start:start + w]
            logits = layer.readout_logits(part.mean(0))
            total = total + part.shape[0] * _loss_value(loss_fn, logits, y)
        params = [layer.weight] + ([layer.bias] if layer.bias is not None else [])
        grads.append(torch.autograd.grad(total / (b * k), params))
        inp = act.detach()
    return grads


def _loss_value(loss_fn, logits, labels):
    """Autograd-able loss whose gradient is the closed form the rule uses."""
    value, err = loss_fn(logits.detach(), labels)
    return (logits * err).sum()  # d/dlogits = err, the same error the rule sends back


@pytest.mark.parametrize("kind", ["dense", "conv"])
@pytest.mark.parametrize("neuron,reset", [("lif", "hard"), ("lif", "subtract"), ("relu", "hard"), ("sigmoid", "hard")])
@pytest.mark.parametrize("loss", ["ce", "mse", "smooth_l1"])
@pytest.mark.parametrize("window,chunk", [("sample", 3), ("sample", 7), ("step", 3), (2, 3), (2, 4), (5, 3)])
def test_local_update_equals_autograd_of_local_loss(kind, neuron, reset, loss, window, chunk):
    torch.manual_seed(0)
    net = _net(kind, neuron, reset)
    steps = 7 if neuron == "lif" else 1
    x = (torch.rand(steps, 5, *net.input_shape) < 0.5).float()
    y = torch.tensor([0, 1, 2, 1, 0])
    rule = LocalRule(net, LocalOptions(loss=loss, window=window), seed=0)
    rule.compute_updates(iter(x.split(chunk)), y, [True] * len(net.layers))
    ref = _autograd_reference(net, x, y, loss, window)
    for layer, ref_grads in zip(net.layers, ref):
        torch.testing.assert_close(layer.weight.grad, ref_grads[0], rtol=1e-4, atol=1e-6)
        if layer.bias is not None:
            torch.testing.assert_close(layer.bias.grad, ref_grads[1], rtol=1e-4, atol=1e-6)
    assert any(layer.weight.grad.abs().sum() > 0 for layer in net.layers)
