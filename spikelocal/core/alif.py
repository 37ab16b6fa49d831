"""Adaptive LIF (ALIF): the CUBA LIF of :mod:`spikelocal.core.neurons` with a threshold that
rises with each spike and decays with its own time constant (Bellec et al., "Long short-term
memory and learning-to-learn in networks of spiking neurons", NeurIPS 2018; the LSNN of
e-prop, Bellec et al., Nat. Commun. 2020).

Discrete time, one step (the LIF equations plus the adaptation ``a``)::

    I[t] = alpha I[t-1] + W s_in[t]                    alpha = exp(-dt / tau_syn)
    V[t] = beta  V[t-1] + I[t] + b                     beta  = exp(-dt / tau_mem)
    A[t] = theta + beta_a a[t-1]                       the adaptive threshold
    s[t] = H(V[t] - A[t])
    a[t] = rho a[t-1] + s[t]                           rho   = exp(-dt / tau_adapt)
    reset as the LIF (hard: V <- 0; subtract: V <- V - theta) where s[t]

``beta_a`` is ``neuron.adaptation``. The membrane this model hands over (what
:meth:`derivative` takes and the records hold) is ``V[t] - beta_a a[t-1]``, the membrane
measured against the fixed part of the threshold: ``membrane - theta = V - A``, so the
surrogate, the local rules and the plots that compare the membrane with ``theta`` need no
case for adaptation. The adaptation itself is recorded on demand (``Want(adaptation=True)``),
reconstructed from the spikes by :meth:`ALIF.adaptation`.

Gradients: the reset is excluded (as for the LIF); the adaptation is not: with autograd the
threshold carries the graph of the earlier spikes, which is what e-prop's adaptation
eligibility (:mod:`spikelocal.rules.eprop_traces`) computes forward in time.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from ..config import NeuronConfig
from .neurons import SPIKING, CubaLIF, State, _expand, _SpikeFn


@SPIKING.register("alif")
class ALIF(CubaLIF):
    """CUBA LIF with threshold adaptation; state (I, V, a). See the module docstring."""

    def __init__(self, cfg: NeuronConfig) -> None:
        super().__init__(cfg)
        self.rho = math.exp(-cfg.dt / cfg.tau_adapt)
        self.adapt = cfg.adaptation

    def init_state(self, shape: tuple[int, ...], device: torch.device) -> State:
        return tuple(torch.zeros(shape, device=device) for _ in range(3))

    def run(self, current: Tensor, state: State, bias: Optional[Tensor],
            differentiable: bool = False, workspace: Optional[dict[str, Tensor]] = None,
            ) -> tuple[Tensor, Tensor, State]:
        # no compiled loop: ALIF layers are small recurrent ones, stepped one step at a time
        if not differentiable:
            return self._run_inplace(current, state, bias)
        syn, mem, adapt = state
        b = None if bias is None else _expand(bias, current[0])
        spikes, membrane = [], []
        for k in range(current.shape[0]):
            syn = self.alpha * syn + current[k]
            mem = self.beta * mem + syn
            if b is not None:
                mem = mem + b
            effective = mem - self.adapt * adapt          # V - beta_a a[t-1]
            s = _SpikeFn.apply(effective - self.threshold, self.surrogate, self.slope)
            reset = mem * s if self.hard_reset else self.threshold * s
            mem = mem - reset.detach()
            adapt = self.rho * adapt + s
            spikes.append(s)
            membrane.append(effective)
        return torch.stack(spikes), torch.stack(membrane), (syn, mem, adapt)

    def _run_inplace(self, current: Tensor, state: State, bias: Optional[Tensor],
                     ) -> tuple[Tensor, Tensor, State]:
        """The same steps without autograd, in place on copies of the state (a step of a small
        layer costs its operations' dispatch more than their arithmetic)."""
        syn, mem, adapt = (x.detach().clone() for x in state)
        b = None if bias is None else _expand(bias.detach(), current[0])
        current = current.detach()
        spikes = torch.empty_like(current)
        membrane = torch.empty_like(current)
        for k in range(current.shape[0]):
            syn.mul_(self.alpha).add_(current[k])
            mem.mul_(self.beta).add_(syn)
            if b is not None:
                mem.add_(b)
            effective = torch.sub(mem, adapt, alpha=self.adapt, out=membrane[k])
            fired = effective > self.threshold
            s = spikes[k].copy_(fired)
            if self.hard_reset:
                mem.masked_fill_(fired, 0.0)
            else:
                mem.sub_(s, alpha=self.threshold)
            adapt.mul_(self.rho).add_(s)
        return spikes, membrane, (syn, mem, adapt)

    def adaptation(self, spikes: Tensor, state: State) -> Tensor:
        """a[t] for K steps of this model's spikes [K, B, ...], given the state before them."""
        a = state[2].detach().clone()
        out = torch.empty_like(spikes)
        for k in range(spikes.shape[0]):
            a.mul_(self.rho).add_(spikes[k].detach())
            out[k] = a
        return out
