"""e-prop's eligibility traces, computed forward in time from the core's records.

Bellec, Scherr, Subramoney, Hajek, Salaj, Legenstein & Maass, "A solution to the learning
dilemma for recurrent networks of spiking neurons", Nat. Commun. 11, 3625 (2020), eqs. 13-25,
written for the neurons of :mod:`spikelocal.core` (CUBA synapse, reset excluded from the
gradient as everywhere in the package).

Pre-synaptic factor. Neuron j of a layer sees the inputs i = (x_i[t] for the input weights,
s_i[t-1] for the recurrent ones, 1 for the bias). With the reset excluded V_j is linear in
the weights, so dV_j[t]/dW_ji = P_i[t], the CUBA trace of the input
(Q[t] = alpha Q[t-1] + in[t], P[t] = beta P[t-1] + Q[t]; the paper's z-bar, here filtered by
the synapse too), recorded by the simulator as ``trace``/``recurrent_trace``/``bias_trace``.

Eligibility e_ji[t] = ds_j[t]/dW_ji when the recurrent dependence is cut (s[t-1] treated as
an input), with psi_j[t] the surrogate derivative (the ``derivative`` record)::

    LIF:   e_ji[t]      = psi_j[t] P_i[t]
    ALIF:  e_ji[t]      = psi_j[t] (P_i[t] - beta_a eps_ji[t-1])
           eps_ji[t]    = rho eps_ji[t-1] + e_ji[t]         (= da_j[t]/dW_ji)

(the paper's eps^a[t+1] = psi eps^v + (rho - psi beta_a) eps^a, shifted by one step because
here A[t] reads a[t-1]). Output filter: when the neurons that read the layer integrate its
spikes (a CUBA LIF output; the paper's leaky readout kappa), e is filtered by the output
neuron's own trace filter, e-bar = F(e); a linear (rate) readout needs none. The update with
a learning signal L_j[t] (:mod:`spikelocal.rules.eprop`) is::

    dW_ji = sum_t L_j[t] e-bar_ji[t]

For a LIF layer without an output filter e factorises, and the sum is one product
(psi L)^T P over the chunk, as in the local rule. Otherwise the trace is per synapse: a
state of [B, N, N_in + N_rec (+1)] numbers carried across chunks and stepped once per time
step, which is fine for the small recurrent layers of the temporal tasks (100 neurons, 40
inputs, batch 64: 3.6 MB) and is the price of the adaptation eligibility.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor

from ..core.layers import Layer
from ..core.neurons import NeuronModel, State
from ..core.simulate import LayerRecord


@dataclass
class SynapseTraces:
    """What carries from one chunk to the next for one layer and one batch."""

    adaptation: Optional[Tensor] = None          # eps [B, N, M]
    output_filter: State = field(default_factory=tuple)


def presynaptic(rec: LayerRecord) -> Tensor:
    """The layer's pre-synaptic traces side by side: [K, B, M] = (input, recurrent, bias)."""
    k, b = rec.output.shape[:2]
    if rec.trace is None:
        raise ValueError("the simulator was not asked for the trace (Want(trace=True))")
    parts = [rec.trace.reshape(k, b, -1)]
    if rec.recurrent_trace is not None:
        parts.append(rec.recurrent_trace.reshape(k, b, -1))
    if rec.layer.bias is not None:
        parts.append(rec.bias_trace.to(rec.trace.dtype).view(k, 1, 1).expand(k, b, 1))
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=2)


def add_grad(layer: Layer, grad: Tensor) -> None:
    """Split dW [N, M] (columns as in :func:`presynaptic`) into the layer's ``grad``s."""
    n_in = layer.weight[0].numel()
    layer.weight.grad += grad[:, :n_in].view_as(layer.weight)
    col = n_in
    if layer.recurrent is not None:
        n = layer.recurrent.shape[0]
        rec = grad[:, col:col + n]
        mask = getattr(layer, "recurrent_mask", None)
        layer.recurrent.grad += rec if mask is None else rec * mask
        col += n
    if layer.bias is not None:
        layer.bias.grad += grad[:, col]


def accumulate_eprop(rec: LayerRecord, signal: Tensor, traces: SynapseTraces,
                     output_neuron: Optional[NeuronModel]) -> None:
    """Add sum_t L[t] e-bar[t] over the chunk to the layer's ``grad`` (module docstring).

    ``signal`` is the learning signal L [K, B, N]; ``output_neuron`` filters e (None: no
    filter). ``traces`` is advanced in place.
    """
    layer = rec.layer
    psi = rec.derivative
    if psi is None:
        raise ValueError("the simulator was not asked for the derivative (Want(derivative=True))")
    k, b = psi.shape[:2]
    psi = psi.reshape(k, b, -1)
    signal = signal.reshape(k, b, -1)
    pre = presynaptic(rec)
    adapt = getattr(layer.neuron, "adapt", 0.0)
    rho = getattr(layer.neuron, "rho", 0.0)
    n, m = psi.shape[2], pre.shape[2]
    if adapt and traces.adaptation is None:
        traces.adaptation = psi.new_zeros((b, n, m))
    if output_neuron is None:
        # sum_t L e = sum_t (L psi)[t] P[t] - beta_a sum_t (L psi)[t] eps[t-1]: the first sum
        # is one product over the chunk; the second runs only at steps with a learning signal
        learn = signal * psi
        grad = learn.reshape(k * b, -1).t() @ pre.reshape(k * b, -1)
        if adapt and _adaptive_kernel() is not None and all(
                t.dtype == torch.float32 and t.device.type == "cpu" for t in (learn, psi, pre, grad)):
            _adaptive_kernel()(learn.contiguous().numpy(), psi.contiguous().numpy(), pre.contiguous().numpy(),
                               traces.adaptation.numpy(), np.float32(rho), np.float32(adapt), grad.numpy())
        elif adapt:
            eps = traces.adaptation
            live = learn.reshape(k, -1).abs().sum(1) > 0
            for t in range(k):
                if live[t]:
                    grad -= adapt * torch.einsum("bn,bnm->nm", learn[t], eps)
                # eps[t] = (rho - beta_a psi[t]) eps[t-1] + psi[t] P[t]
                eps.mul_((rho - adapt * psi[t]).unsqueeze(2)).baddbmm_(psi[t].unsqueeze(2), pre[t].unsqueeze(1))
        add_grad(layer, grad)
        return
    if not traces.output_filter:
        traces.output_filter = tuple(s.to(psi.dtype) for s in output_neuron.init_trace((b, n, m), psi.device))
    grad = psi.new_zeros((n, m))
    kernel = _filtered_kernel()
    if (kernel is not None and hasattr(output_neuron, "alpha") and len(traces.output_filter) == 2
            and all(t.dtype == torch.float32 and t.device.type == "cpu" for t in (signal, psi, pre))):
        eps = traces.adaptation if adapt else psi.new_zeros((1, 1, 1))
        q, p = traces.output_filter
        kernel(signal.contiguous().numpy(), psi.contiguous().numpy(), pre.contiguous().numpy(), eps.numpy(),
               q.numpy(), p.numpy(), np.float32(rho), np.float32(adapt), np.float32(output_neuron.alpha),
               np.float32(output_neuron.beta), grad.numpy())
        add_grad(layer, grad)
        return
    for t in range(k):
        if adapt:
            eps = traces.adaptation
            e = (pre[t].unsqueeze(1) - adapt * eps).mul_(psi[t].unsqueeze(2))
            eps.mul_(rho).add_(e)
        else:
            e = psi[t].unsqueeze(2) * pre[t].unsqueeze(1)
        filtered, traces.output_filter = output_neuron.eligibility(e.unsqueeze(0), traces.output_filter)
        grad += torch.einsum("bn,bnm->nm", signal[t], filtered[0])
    add_grad(layer, grad)


@functools.cache
def _adaptive_kernel() -> Optional[Any]:
    """The ALIF recursion of :func:`accumulate_eprop` (no output filter) as one compiled pass
    per step (numba), None without numba. Same equations as the tensor loop, which stays the
    reference (float64, tests) and the path without numba; it runs the [B, N, M] trace once
    per step with the state in cache instead of three passes with temporaries, and skips the
    gradient term where the learning signal is zero."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def adaptive_steps(learn, psi, pre, eps, rho, adapt, grad):  # pragma: no cover
        steps, batch, n_post = psi.shape
        n_pre = pre.shape[2]
        for t in range(steps):
            for b in range(batch):
                for n in range(n_post):
                    p = psi[t, b, n]
                    c = rho - adapt * p
                    g = adapt * learn[t, b, n]
                    if g != 0.0:
                        for m in range(n_pre):
                            e = eps[b, n, m]
                            grad[n, m] -= g * e
                            eps[b, n, m] = c * e + p * pre[t, b, m]
                    elif p != 0.0:
                        for m in range(n_pre):
                            eps[b, n, m] = c * eps[b, n, m] + p * pre[t, b, m]
                    else:
                        for m in range(n_pre):
                            eps[b, n, m] *= c

    return adaptive_steps


@functools.cache
def _filtered_kernel() -> Optional[Any]:
    """The loop of :func:`accumulate_eprop` with a CUBA output filter, compiled (numba): per
    synapse e (with the adaptation trace when ``adapt``), Q = alpha Q + e, P = beta P + Q,
    dW += L P, in one pass per step. None without numba (the tensor loop is the reference)."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def filtered_steps(signal, psi, pre, eps, q, p, rho, adapt, alpha, beta, grad):  # pragma: no cover
        steps, batch, n_post = psi.shape
        n_pre = pre.shape[2]
        adaptive = adapt != 0.0
        for t in range(steps):
            for b in range(batch):
                for n in range(n_post):
                    s = psi[t, b, n]
                    l = signal[t, b, n]
                    for m in range(n_pre):
                        if adaptive:
                            e = s * (pre[t, b, m] - adapt * eps[b, n, m])
                            eps[b, n, m] = rho * eps[b, n, m] + e
                        else:
                            e = s * pre[t, b, m]
                        qv = alpha * q[b, n, m] + e
                        q[b, n, m] = qv
                        pv = beta * p[b, n, m] + qv
                        p[b, n, m] = pv
                        grad[n, m] += l * pv

    return filtered_steps
