"""The three-factor update, written once for every rule that uses it.

For a layer with records over K steps (:mod:`spikelocal.core.simulate`)::

    delta(t) = m(t) * f'(V(t))                 modulator x post-synaptic factor
    dW      += sum_t delta(t) outer P(t)       x pre-synaptic eligibility trace
    db      += sum_t delta(t) pb(t)

accumulated into ``param.grad`` (as a gradient to descend). The modulator m is whatever the
rule sends to the layer's neurons: the local rule's G^T e through the fixed readout, a
feedback-alignment signal, a target difference. It is given per window group,
``[G, B, *out_shape]`` with G dividing K: G = K is one modulator per step, G = 1 one for the
whole chunk (a loss window of K steps), anything between one per window of K / G steps.
"""
from __future__ import annotations

from torch import Tensor

from .simulate import LayerRecord


def modulate(record: LayerRecord, modulator: Tensor) -> Tensor:
    """delta = modulator x f'(V), [K, B, *out_shape], written over the record's derivative."""
    deriv = record.derivative
    if deriv is None:
        raise ValueError("the simulator was not asked for the derivative (Want(derivative=True))")
    k = deriv.shape[0]
    groups = modulator.shape[0]
    if groups == 1:
        return deriv.mul_(modulator[0])
    if groups == k:
        return deriv.mul_(modulator)
    if k % groups:
        raise ValueError(f"a modulator of {groups} window groups does not divide a chunk of {k} steps")
    shape = deriv.shape
    deriv.view(groups, k // groups, *shape[1:]).mul_(modulator.unsqueeze(1))
    return deriv


def accumulate(record: LayerRecord, delta: Tensor, presynaptic: Tensor | None = None) -> None:
    """Add delta outer P (and delta pb) to the layer's ``grad``; ``presynaptic`` replaces P."""
    layer = record.layer
    pre = record.trace if presynaptic is None else presynaptic
    if pre is None:
        raise ValueError("the simulator was not asked for the trace (Want(trace=True))")
    k, b = delta.shape[:2]
    layer.weight.grad += layer.weight_grad(pre.reshape(k * b, *layer.in_shape),
                                           delta.reshape(k * b, *layer.out_shape))
    if layer.bias is not None and record.bias_trace is not None:
        layer.bias.grad += layer.bias_grad(delta, record.bias_trace)


def three_factor(record: LayerRecord, modulator: Tensor) -> None:
    """:func:`modulate` then :func:`accumulate`: the whole local update of one layer."""
    accumulate(record, modulate(record, modulator))
