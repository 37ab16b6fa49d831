"""The feedback-alignment family: fa, dfa and sign_symmetry.

- ``fa``: Lillicrap, Cownden, Tweed & Akerman, "Random synaptic feedback weights support
  error backpropagation for deep learning", Nat. Commun. 2016.
- ``dfa``: Nøkland, "Direct feedback alignment provides learning in deep neural networks",
  NeurIPS 2016.
- ``sign_symmetry``: Liao, Leibo & Poggio, "How important is weight symmetry in
  backpropagation?", AAAI 2016; Xiao, Chen, Liao & Poggio, arXiv:1811.03567 (2018).

All three minimise the output layer's loss (:mod:`spikelocal.rules.bp`): with the output
error e(t) = dloss(z_L(t), y)/dz_L and ``pool^T`` the adjoint of the layer's sum pooling::

    delta_L(t) = (G_L^T e(t)) * f'(V_L(t))                           G_L = output_scale * I
    fa:             delta_l(t) = pool^T(B_{l+1}^T delta_{l+1}(t)) * f'(V_l(t))
    sign_symmetry:  same with B_{l+1} = sign(W_{l+1}) * mean|W_{l+1}| / g_{l+1}
    dfa:            delta_l(t) = pool^T(B_l^T e(t)) * f'(V_l(t))
    dW_l = 1/(B T) sum_t delta_l(t) outer P_{l-1}(t)

with P the pre-synaptic eligibility trace of :mod:`spikelocal.core.neurons`. For a rate network
T = 1, P is the layer input and this is the rule of the papers. For a spiking network the
error crosses layers at the same time step only (time-local, no BPTT): the part of the
credit that flows through the synaptic and membrane memory of the layers above is dropped,
while each layer's own memory is kept exactly through P. With B = W and T = 1 the update
equals backprop (``tests/test_rules_feedback.py``).

Scale of the feedback. For a spiking layer the error at step t is sent down through the
synapse's instantaneous weight only, while a spike drives the layer above through the whole
synaptic and membrane kernel, whose DC gain is 1/((1-alpha)(1-beta)). spikelocal initialises
spiking weights divided by g = threshold (1-alpha)(1-beta) (:mod:`spikelocal.core.layers`), so
that ``network.weight_scale`` means the same for any time constants. fa draws B in the
range of the init WITHOUT that factor (weight_scale / sqrt(fan_in)), and sign_symmetry
divides by g in the same way (g = 1 for rate neurons): both then carry an error of the size
the steady-state response implies. Without it the sign feedback of a silent spiking net is
g^2 (~3e-4 with two layers above, default taus) smaller than the output error, below Adam's
epsilon, and the hidden layers never start to fire.

For conv layers the fa feedback ``B`` is a fixed random kernel of the forward kernel's shape
used in a transposed convolution; sign_symmetry uses the sign of the forward kernel. The
dfa matrix of a hidden layer is [classes x pooled size] (like a readout), reshaped to the
layer's pooled activity. fa and dfa matrices are drawn from the run seed and stored in
checkpoints (``state_tensors``); sign_symmetry derives its feedback from W at every batch.
"""
from __future__ import annotations

import math
import torch
from torch import Tensor

from ..core.layers import Layer
from ..core.network import Network
from . import RULES
from .. import seeds
from ..config.rules import DFAOptions, FAOptions, OutputLossOptions, SignSymmetryOptions
from .targets import DeltaRule, Forward, synapse_adjoint



def init_gain(layer: Layer) -> float:
    """g of the module docstring: the factor by which :class:`Layer` scales a spiking init."""
    return layer.neuron.threshold_current if layer.neuron.spiking else 1.0


class FeedbackRule(DeltaRule):
    """Forward without a graph, then the output error sent down by :meth:`hidden_signals`."""

    def __init__(self, net: Network, options: OutputLossOptions, seed: int) -> None:
        super().__init__(net, options, seed)
        self.generator = torch.Generator().manual_seed(seed + seeds.FEEDBACK)

    def hidden_signals(self, err: Tensor, deltas: list[Tensor | None], i: int) -> Tensor:
        """dL/d(pooled activity of hidden layer i), [N, *pooled_shape], given the deltas above."""
        raise NotImplementedError

    def feedback_matrices(self) -> dict[int, Tensor]:
        """Layer index -> the matrix used in place of that layer's W (fa, sign_symmetry)."""
        return {}

    def deltas(self, fwd: Forward, lowest: int) -> list[Tensor | None]:
        """Output error through the readout, then each hidden layer's signal from the layers
        above (:meth:`hidden_signals`), times the layer's own derivative."""
        layers = self.net.layers
        n = len(layers)
        deltas: list[Tensor | None] = [None] * n
        for i in range(n - 1, lowest - 1, -1):
            layer = layers[i]
            signal = (layer.readout_adjoint(fwd.err) if i == n - 1
                      else self.hidden_signals(fwd.err, deltas, i))
            deltas[i] = layer.pool_adjoint(signal).mul_(layer.neuron.derivative(fwd.membranes[i]))
        return deltas


@RULES.register("fa")
class FARule(FeedbackRule):
    """Feedback alignment: a fixed random B_l of W_l's shape replaces W_l in the backward pass."""

    Options = FAOptions

    def __init__(self, net: Network, options: FAOptions, seed: int) -> None:
        super().__init__(net, options, seed)
        scale = options.feedback_scale * net.weight_scale
        self.feedback: dict[int, Tensor] = {}
        for i, layer in enumerate(net.layers):
            if i == 0:
                continue  # nothing below the first layer needs an error
            w = layer.weight
            bound = scale / math.sqrt(w[0].numel())  # the forward weights' own init range
            self.feedback[i] = ((torch.rand(w.shape, generator=self.generator) * 2 - 1) * bound).to(w.device)

    def hidden_signals(self, err: Tensor, deltas: list[Tensor | None], i: int) -> Tensor:
        return synapse_adjoint(self.net.layers[i + 1], deltas[i + 1], self.feedback[i + 1])

    def feedback_matrices(self) -> dict[int, Tensor]:
        return dict(self.feedback)

    def state_tensors(self) -> dict[str, Tensor]:
        return {f"feedback.{i}": b for i, b in self.feedback.items()}


@RULES.register("sign_symmetry")
class SignSymmetryRule(FeedbackRule):
    """Sign-concordant feedback: sign(W_l), scaled by mean|W_l| / g_l (module docstring)."""

    Options = SignSymmetryOptions

    def _sign_feedback(self, i: int) -> Tensor:
        layer = self.net.layers[i]
        w = layer.weight.detach()
        return torch.sign(w) * (w.abs().mean() / init_gain(layer))

    def hidden_signals(self, err: Tensor, deltas: list[Tensor | None], i: int) -> Tensor:
        return synapse_adjoint(self.net.layers[i + 1], deltas[i + 1], self._sign_feedback(i + 1))

    def feedback_matrices(self) -> dict[int, Tensor]:
        return {i: self._sign_feedback(i).detach() for i in range(1, len(self.net.layers))}


@RULES.register("dfa")
class DFARule(FeedbackRule):
    """Direct feedback alignment: the output error reaches hidden layer l through fixed B_l."""

    Options = DFAOptions

    def __init__(self, net: Network, options: DFAOptions, seed: int) -> None:
        super().__init__(net, options, seed)
        c = net.num_classes
        self.feedback: dict[int, Tensor] = {}
        for i, layer in enumerate(net.layers[:-1]):
            size = math.prod(layer.pooled_shape)
            bound = options.feedback_scale / math.sqrt(c)
            self.feedback[i] = ((torch.rand((c, size), generator=self.generator) * 2 - 1) * bound).to(
                layer.weight.device)

    def hidden_signals(self, err: Tensor, deltas: list[Tensor | None], i: int) -> Tensor:
        layer = self.net.layers[i]
        return (err @ self.feedback[i]).view(err.shape[0], *layer.pooled_shape)

    def state_tensors(self) -> dict[str, Tensor]:
        return {f"feedback.{i}": b for i, b in self.feedback.items()}


__all__ = ["FARule", "DFARule", "SignSymmetryRule", "FeedbackRule", "init_gain"]
