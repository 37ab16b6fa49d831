"""Neuron dynamics: rate nonlinearities and the current-based LIF neuron (CUBA).

The equations, written once (everything else in the package refers to them):

Rate neuron, one step (T = 1)::

    a = W x + b,   h = f(a)              f in {relu, sigmoid, tanh, linear}

Current-based LIF, discrete time (NIR ``CubaLIF``, lava-dl CUBA, the Loihi compartment)::

    I[t] = alpha * I[t-1] + W s_in[t]              alpha = exp(-dt / tau_syn)
    V[t] = beta  * V[t-1] + I[t] + b               beta  = exp(-dt / tau_mem)
    s[t] = H(V[t] - theta)
    hard reset:      V[t] <- 0            where s[t]   (default)
    subtract reset:  V[t] <- V[t] - theta where s[t]

Surrogate derivative, u = V - theta, every kind peaking at 1 for u = 0::

    fast_sigmoid: 1 / (slope |u| + 1)^2        (DECOLLE, SuperSpike)
    sigmoid:      4 sig(slope u) (1 - sig(slope u))
    triangle:     max(0, 1 - slope |u|)

Eligibility traces. With the reset excluded from the gradient, V is linear in W and b::

    V[t] = W P[t] + b pb[t]
    Q[t] = alpha Q[t-1] + s_in[t],  P[t] = beta P[t-1] + Q[t],  pb[t] = beta pb[t-1] + 1

so ``dV[t]/dW = P[t]``: the pre-synaptic trace is the third factor of the local rule and
does not depend on the post-synaptic neuron. For a rate neuron P is the input itself.

A model never knows which rule trains it: it hands over activity, the membrane (or
pre-activation) and its derivative, and filters pre-synaptic activity into traces.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Callable, Optional

import torch
from torch import Tensor

from .. import kernels
from . import fused
from ..config import NeuronConfig
from ..registry import Registry

State = tuple[Tensor, ...]
Surrogate = Callable[[Tensor, float], Tensor]
SURROGATES: Registry[Surrogate] = Registry("surrogate")


# Each surrogate overwrites its argument u with the result (callers pass a tensor of their
# own): a chunk of K steps is large, and every temporary is a pass over memory.
@SURROGATES.register("fast_sigmoid")
def fast_sigmoid(u: Tensor, slope: float) -> Tensor:
    return u.abs_().mul_(slope).add_(1.0).reciprocal_().square_()


@SURROGATES.register("sigmoid")
def sigmoid_surrogate(u: Tensor, slope: float) -> Tensor:
    sig = u.mul_(slope).sigmoid_()
    return sig.mul(4.0).mul_(torch.rsub(sig, 1.0))


@SURROGATES.register("triangle")
def triangle(u: Tensor, slope: float) -> Tensor:
    return torch.rsub(u.abs_().mul_(slope), 1.0).clamp_(min=0.0)


class _SpikeFn(torch.autograd.Function):
    """Heaviside forward, surrogate derivative backward (used by autograd-based rules)."""

    @staticmethod
    def forward(ctx, u: Tensor, surrogate: Surrogate, slope: float) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(u)
        ctx.surrogate, ctx.slope = surrogate, slope
        return (u > 0).to(u.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        (u,) = ctx.saved_tensors
        return grad * ctx.surrogate(u.clone(), ctx.slope), None, None


class NeuronModel(ABC):
    """Dynamics of one population; stateless models ignore the state arguments.

    Besides the dynamics a model owns its constants, so that no rule, layer or exporter
    recomputes them: :attr:`dc_gain` (steady-state membrane per unit of constant input
    current), :attr:`bias_gain` (the same for the bias), and the two scales derived from
    them that rules and initialisers use, :attr:`threshold_current` and
    :attr:`threshold_bias`. Rate models have unit gains and no threshold (1.0 by convention),
    so code written against these names is the same for both families.
    """

    spiking: bool = False
    threshold: float = 1.0
    dc_gain: float = 1.0
    bias_gain: float = 1.0

    @property
    def threshold_current(self) -> float:
        """The constant input current that alone brings V to the threshold (threshold / dc_gain):
        the scale of the default weight init and of the feedback of rules that send errors down."""
        return self.threshold / self.dc_gain

    @property
    def threshold_bias(self) -> float:
        """The bias that alone holds V at the threshold (threshold / bias_gain)."""
        return self.threshold / self.bias_gain

    @abstractmethod
    def init_state(self, shape: tuple[int, ...], device: torch.device) -> State: ...

    @abstractmethod
    def run(self, current: Tensor, state: State, bias: Optional[Tensor],
            differentiable: bool = False, workspace: Optional[dict[str, Tensor]] = None,
            ) -> tuple[Tensor, Tensor, State]:
        """Advance K steps. ``current`` is [K, B, ...]; returns (activity, membrane, state).

        ``membrane`` is V before the reset (LIF) or the pre-activation a (rate); it is what
        :meth:`derivative` takes. With ``differentiable`` the activity carries an autograd
        graph (surrogate gradient through the spike, the reset detached). A ``workspace``
        (a dict the caller keeps) lets the results reuse the previous call's memory: only for
        a caller that is done with the previous chunk's results.
        """

    @abstractmethod
    def derivative(self, membrane: Tensor, inplace: bool = False) -> Tensor:
        """Post-synaptic factor: f'(a) for rate neurons, the surrogate for LIF.

        With ``inplace`` the result may be written over ``membrane`` (for a caller that no
        longer needs it; it saves a pass over memory per temporary).
        """

    def init_trace(self, shape: tuple[int, ...], device: torch.device) -> State:
        return ()

    def synaptic_current(self, current: Tensor, state: State) -> Tensor:
        """The current the membrane integrates at each of K steps, given the state before them
        (rate neurons: the synaptic input itself)."""
        return current

    def eligibility(self, pre: Tensor, trace: State,
                    workspace: Optional[dict[str, Tensor]] = None) -> tuple[Tensor, State]:
        """Pre-synaptic eligibility P for K steps of pre-synaptic activity [K, B, ...]
        (``workspace`` as in :meth:`run`)."""
        return pre, trace

    def bias_eligibility(self, steps: int, trace: float) -> tuple[Tensor, float]:
        """dV/db for K steps (a vector of K numbers) and the carried scalar trace."""
        return torch.ones(steps), trace


class RateNeuron(NeuronModel):
    """h = f(a); T = 1 and the eligibility is the input itself."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def init_state(self, shape: tuple[int, ...], device: torch.device) -> State:
        return ()

    def run(self, current: Tensor, state: State, bias: Optional[Tensor],
            differentiable: bool = False, workspace: Optional[dict[str, Tensor]] = None,
            ) -> tuple[Tensor, Tensor, State]:
        a = current if bias is None else current + _expand(bias, current)
        if self.kind == "relu":
            h = torch.relu(a)
        elif self.kind == "sigmoid":
            h = torch.sigmoid(a)
        elif self.kind == "tanh":
            h = torch.tanh(a)
        else:
            h = a
        return h, a, state

    def derivative(self, membrane: Tensor, inplace: bool = False) -> Tensor:
        if self.kind == "relu":
            return (membrane > 0).to(membrane.dtype)
        if self.kind == "sigmoid":
            s = torch.sigmoid(membrane)
            return s * (1 - s)
        if self.kind == "tanh":
            return 1 - torch.tanh(membrane).square()
        return torch.ones_like(membrane)


class CubaLIF(NeuronModel):
    """Current-based LIF with the equations of the module docstring.

    ``backend`` picks the step loop for non-differentiable runs: ``auto`` (numba kernels for
    float32 CPU tensors, the ``torch.compile`` fused loop of :mod:`spikelocal.core.fused` for
    GPU tensors, the tensor-operation reference loop otherwise), ``compiled`` (the fused loop
    on any device) or ``reference``.
    """

    spiking = True
    backend: str = "auto"

    def __init__(self, cfg: NeuronConfig) -> None:
        self.cfg = cfg
        self.alpha = math.exp(-cfg.dt / cfg.tau_syn)
        self.beta = math.exp(-cfg.dt / cfg.tau_mem)
        self.threshold = cfg.threshold
        self.hard_reset = cfg.reset == "hard"
        # V responds to a constant current I0 with I0 / ((1-alpha)(1-beta)), to a bias b with b / (1-beta)
        self.dc_gain = 1.0 / ((1.0 - self.alpha) * (1.0 - self.beta))
        self.bias_gain = 1.0 / (1.0 - self.beta)
        self.surrogate = SURROGATES.get(cfg.surrogate.kind)
        self.slope = cfg.surrogate.slope

    @property
    def threshold_current(self) -> float:
        # written as a product (not threshold / dc_gain) so that initial weights keep their digits
        return self.threshold * (1 - self.alpha) * (1 - self.beta)

    @property
    def threshold_bias(self) -> float:
        return self.threshold * (1 - self.beta)

    def init_state(self, shape: tuple[int, ...], device: torch.device) -> State:
        return torch.zeros(shape, device=device), torch.zeros(shape, device=device)

    def run(self, current: Tensor, state: State, bias: Optional[Tensor],
            differentiable: bool = False, workspace: Optional[dict[str, Tensor]] = None,
            ) -> tuple[Tensor, Tensor, State]:
        if differentiable:
            return self._run_autograd(current, state, bias)
        syn, mem = state[0].clone(), state[1].clone()
        if self.backend == "auto" and kernels.usable(current, syn, mem):
            b = None if bias is None else _expand(bias, current[0]).expand(current.shape[2:])
            spikes, membrane = kernels.lif_steps(current, syn, mem, b, self.alpha, self.beta,
                                                 self.threshold, self.hard_reset, workspace)
            return spikes, membrane, (syn, mem)
        if self._use_fused(current):
            b = None if bias is None else _expand(bias, current[0])
            spikes, membrane, syn, mem = fused.lif_steps(current, syn, mem, b, self.alpha, self.beta,
                                                         self.threshold, self.hard_reset)
            return spikes, membrane, (syn, mem)
        return self._run_steps(current, syn, mem, bias)

    def _use_fused(self, current: Tensor) -> bool:
        if self.backend == "reference" or current.dtype != torch.float32:
            return False
        wanted = self.backend == "compiled" or current.device.type == "cuda"
        return wanted and fused.available(current.device.type)

    def _run_steps(self, current: Tensor, syn: Tensor, mem: Tensor,
                   bias: Optional[Tensor]) -> tuple[Tensor, Tensor, State]:
        """The step loop in tensor operations (reference of :mod:`spikelocal.kernels`)."""
        spikes = torch.empty_like(current)
        membrane = torch.empty_like(current)
        b = None if bias is None else _expand(bias, current[0])
        for k in range(current.shape[0]):
            syn.mul_(self.alpha).add_(current[k])
            mem.mul_(self.beta).add_(syn)
            if b is not None:
                mem.add_(b)
            membrane[k] = mem
            fired = mem > self.threshold
            spikes[k] = fired
            if self.hard_reset:
                mem.masked_fill_(fired, 0.0)
            else:
                mem.sub_(spikes[k], alpha=self.threshold)
        return spikes, membrane, (syn, mem)

    def _run_autograd(self, current: Tensor, state: State,
                      bias: Optional[Tensor]) -> tuple[Tensor, Tensor, State]:
        syn, mem = state
        spikes, membrane = [], []
        for k in range(current.shape[0]):
            syn = self.alpha * syn + current[k]
            mem = self.beta * mem + syn
            if bias is not None:
                mem = mem + _expand(bias, mem)
            s = _SpikeFn.apply(mem - self.threshold, self.surrogate, self.slope)
            membrane.append(mem)
            spikes.append(s)
            reset = mem * s if self.hard_reset else self.threshold * s
            mem = mem - reset.detach()
        return torch.stack(spikes), torch.stack(membrane), (syn, mem)

    def derivative(self, membrane: Tensor, inplace: bool = False) -> Tensor:
        if (inplace and self.cfg.surrogate.kind == "fast_sigmoid" and membrane.is_contiguous()
                and kernels.usable(membrane)):
            return kernels.fast_sigmoid_(membrane, self.threshold, self.slope)
        u = membrane.sub_(self.threshold) if inplace else membrane - self.threshold
        return self.surrogate(u, self.slope)

    def init_trace(self, shape: tuple[int, ...], device: torch.device) -> State:
        return torch.zeros(shape, device=device), torch.zeros(shape, device=device)

    def synaptic_current(self, current: Tensor, state: State) -> Tensor:
        """I[t] = alpha I[t-1] + W s_in[t] (the same operations as :meth:`run`)."""
        syn = state[0].clone()
        out = torch.empty_like(current)
        for k in range(current.shape[0]):
            syn.mul_(self.alpha).add_(current[k])
            out[k] = syn
        return out

    def eligibility(self, pre: Tensor, trace: State,
                    workspace: Optional[dict[str, Tensor]] = None) -> tuple[Tensor, State]:
        q, p = trace[0].clone(), trace[1].clone()
        if self.backend == "auto" and kernels.usable(pre, q, p):
            return kernels.trace_steps(pre, q, p, self.alpha, self.beta, workspace), (q, p)
        if self._use_fused(pre):
            out, q, p = fused.trace_steps(pre, q, p, self.alpha, self.beta)
            return out, (q, p)
        out = torch.empty_like(pre)
        for k in range(pre.shape[0]):
            q.mul_(self.alpha).add_(pre[k])
            p.mul_(self.beta).add_(q)
            out[k] = p
        return out, (q, p)

    def bias_eligibility(self, steps: int, trace: float) -> tuple[Tensor, float]:
        values = []
        for _ in range(steps):
            trace = self.beta * trace + 1.0
            values.append(trace)
        return torch.tensor(values), trace


def _expand(bias: Tensor, like: Tensor) -> Tensor:
    """Broadcast a per-neuron (dense, [..., N]) or per-channel (conv, [..., C, H, W]) bias."""
    return bias.view(-1, 1, 1) if like.dim() >= 4 else bias


#: spiking models by ``neuron.kind`` (one registration line per model file); any other kind
#: is a rate nonlinearity
SPIKING: Registry[Callable[[NeuronConfig], NeuronModel]] = Registry("neuron model")
SPIKING.register("lif")(CubaLIF)


def build_neuron(cfg: NeuronConfig) -> NeuronModel:
    return SPIKING.get(cfg.kind)(cfg) if cfg.kind in SPIKING else RateNeuron(cfg.kind)
