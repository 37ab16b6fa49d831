"""The CUBA LIF step loop fused by ``torch.compile``: the path for GPU tensors.

On the CPU the numba loops of :mod:`spikelocal.kernels` fuse the neuron's step loop; on a GPU
the reference loop (``CubaLIF._run_steps``) launches about eight small kernels per time step,
each reading and writing the whole [B, N] state. Here the steps of a block of up to
:data:`BLOCK` steps are traced once (the loop unrolled, the constants alpha, beta, threshold
and the reset baked in) and compiled by inductor into one kernel per block that keeps the
state in registers and writes each step's spikes and membrane once. The equations are those
of :mod:`spikelocal.core.neurons`; the compiler may contract a multiply and an add into one
fused multiply-add, so the membrane agrees with the reference loop to float32 rounding
(tested against it), not bit for bit.

A compiled block is cached per (constants, block length, shapes); the chunk length
(``training.time_chunk``) is fixed in a run, so a run compiles once per layer. Where
``torch.compile`` is unavailable (no compiler for inductor) :func:`available` is False and
the reference loop is used.
"""
from __future__ import annotations

import functools
from typing import Callable, Optional

import torch
from torch import Tensor

#: steps unrolled into one compiled kernel (longer chunks run as several blocks)
BLOCK = 32

Block = Callable[..., tuple[Tensor, Tensor, Tensor, Tensor]]


def _block(steps: int, alpha: float, beta: float, threshold: float, hard_reset: bool,
           with_bias: bool) -> Block:
    def run(current: Tensor, syn: Tensor, mem: Tensor, bias: Optional[Tensor]):
        spikes, membrane = [], []
        for k in range(steps):
            syn = syn * alpha + current[k]
            mem = mem * beta + syn
            if with_bias:
                mem = mem + bias
            membrane.append(mem)
            fired = mem > threshold
            spike = fired.to(mem.dtype)
            spikes.append(spike)
            mem = torch.where(fired, torch.zeros_like(mem), mem) if hard_reset else mem - spike * threshold
        return torch.stack(spikes), torch.stack(membrane), syn, mem

    return run


@functools.cache
def compiled_block(steps: int, alpha: float, beta: float, threshold: float, hard_reset: bool,
                   with_bias: bool) -> Block:
    """The compiled block for these constants (one compilation per distinct key)."""
    return torch.compile(_block(steps, alpha, beta, threshold, hard_reset, with_bias),
                         dynamic=False, fullgraph=True)


def _trace_block(steps: int, alpha: float, beta: float) -> Block:
    def run(pre: Tensor, q: Tensor, p: Tensor):
        out = []
        for k in range(steps):
            q = q * alpha + pre[k]
            p = p * beta + q
            out.append(p)
        return torch.stack(out), q, p

    return run


@functools.cache
def compiled_trace_block(steps: int, alpha: float, beta: float) -> Block:
    """The compiled eligibility-trace block (Q and P of :mod:`spikelocal.core.neurons`)."""
    return torch.compile(_trace_block(steps, alpha, beta), dynamic=False, fullgraph=True)


@functools.cache
def available(device_type: str = "cpu") -> bool:
    """Whether ``torch.compile`` runs for this kind of device (inductor needs a C++ compiler
    on the CPU and Triton on a GPU); probed once per kind on a tiny block."""
    try:
        x = torch.zeros(1, 2, device=device_type)
        compiled_block(1, 0.5, 0.5, 1.0, True, False)(x.unsqueeze(0), x, x, None)
        return True
    except Exception:  # noqa: BLE001 - any failure of the compiler means: use the reference loop
        return False


def lif_steps(current: Tensor, syn: Tensor, mem: Tensor, bias: Optional[Tensor], alpha: float,
              beta: float, threshold: float, hard_reset: bool) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """K steps of the CUBA LIF (``current`` [K, B, ...]); returns (spikes, membrane, syn, mem)
    with the same meaning as ``CubaLIF._run_steps``. ``syn`` and ``mem`` are not written."""
    spikes, membrane = [], []
    for start in range(0, current.shape[0], BLOCK):
        part = current[start:start + BLOCK]
        fn = compiled_block(part.shape[0], alpha, beta, threshold, hard_reset, bias is not None)
        s, v, syn, mem = fn(part, syn, mem, bias)
        spikes.append(s)
        membrane.append(v)
    if len(spikes) == 1:
        return spikes[0], membrane[0], syn, mem
    return torch.cat(spikes), torch.cat(membrane), syn, mem


def trace_steps(pre: Tensor, q: Tensor, p: Tensor, alpha: float, beta: float) -> tuple[Tensor, Tensor, Tensor]:
    """K steps of the eligibility trace (``pre`` [K, B, ...]); returns (P per step, q, p)."""
    out = []
    for start in range(0, pre.shape[0], BLOCK):
        part = pre[start:start + BLOCK]
        trace, q, p = compiled_trace_block(part.shape[0], alpha, beta)(part, q, p)
        out.append(trace)
    return (out[0] if len(out) == 1 else torch.cat(out)), q, p
