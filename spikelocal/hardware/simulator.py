"""Bit-accurate simulation of an :class:`IntegerNetwork`, vectorised over the batch.

Per layer and step, with unity = 2**decay_bits, shift = activation_shift, M = 2**(state_bits-1)
(the chip equations of :mod:`.fixed_point`)::

    a_in[t] = sat16( sum_j (w_mant_ij << exp) s_j[t - delay] )      saturates (int16)
    p       = u[t-1] (unity - (du + 1));   u = sgn(p) (|p| >> decay_bits)
    u[t]    = wrap(u + (a_in[t] << shift))                            two's complement, wraps
    q       = v[t-1] (unity - dv);         v = sgn(q) (|q| >> decay_bits)
    v[t]    = clip(v + u[t] + (bias_mant << bias_exp), -(M-1), M-1)    saturates
    s[t]    = v[t] > vth << shift;         v[t] <- 0 where s[t]        hard reset

``sgn(p) (|p| >> n)`` is division rounded toward zero, computed as ``(p + ((p >> 63) & (2**n-1))) >> n``.
All state is int64 numpy. The synaptic sums run as a float32 (or float64) matrix product of
0/1 spikes and integer mantissas (im2col for conv, never Winograd): every partial sum is an
integer below 2**24 (2**53), so the result is exact, identical to an integer product
(``tests/test_hardware_simulator.py`` checks it) and as fast as BLAS.

Each layer adds ``delay`` steps of latency, so a run of T input steps is followed by
``drain`` silent steps (default: one per layer) to let the last input reach the output;
layer l (1-based) answers input step t at step t + l*delay, so its ``counts`` are taken over
the T steps [l*delay, l*delay + T): the window that compares one to one with the float
network's T steps (``spikes`` keeps every step).

Recurrent layers, adaptive thresholds, subtractive reset and a linear output layer run the
step loop of :mod:`.stateful_core` (a recurrent spike reaches its own layer one step later,
as the float layer reads s[t-1]); a linear layer's ``spikes`` hold its int64 outputs.
``scores`` sums the last layer's output over the steps from ``score_from`` on, as the float
evaluation does for a task that answers at its end.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from .. import kernels
from .fixed_point import IntegerLayer, IntegerNetwork
from .stateful_core import stateful_steps

_F32_EXACT = 2 ** 24


@dataclass
class IntegerResult:
    spikes: list[np.ndarray]                 # per layer uint8 [T + drain, B, N]
    counts: list[np.ndarray]                 # per layer int64 [B, N], over the aligned window
    overflow: list[dict[str, int]] = field(default_factory=list)  # a_in saturated, u wrapped, v saturated
    scores: Optional[np.ndarray] = None      # last layer [B, N]: summed from score_from on


def synaptic_input(layer: IntegerLayer, spikes: np.ndarray) -> np.ndarray:
    """sum_j w_mant_ij s_j for spikes [R, *in_shape] (0/1) -> [R, N] exact integers as float.

    float32 when every partial sum stays below 2**24, else float64 (exact below 2**53); the
    product runs in torch's BLAS (the same kernels as the float simulator).
    """
    w = layer.weight.reshape(layer.weight.shape[0], -1)
    bound = int(np.abs(w).max(initial=0)) * w.shape[1]
    dtype = torch.float32 if bound < _F32_EXACT else torch.float64
    wt = torch.from_numpy(w).to(dtype)
    r = spikes.shape[0]
    x = torch.from_numpy(np.ascontiguousarray(spikes)).to(dtype)
    if layer.kind == "dense":
        return (x.reshape(r, -1) @ wt.t()).numpy()
    x = x.reshape(r, *layer.in_shape)
    wk = wt.reshape(layer.weight.shape)
    rows: list[np.ndarray] = []
    step = max(1, 2 ** 22 // max(1, w.shape[1] * int(np.prod(layer.out_shape[1:]))))
    for start in range(0, r, step):
        cols = F.unfold(x[start:start + step], layer.kernel, padding=layer.padding, stride=layer.stride)
        part = wk.reshape(w.shape[0], -1) @ cols  # [n, C_out, OH*OW]: im2col, no Winograd
        rows.append(part.reshape(part.shape[0], -1).numpy())
    return np.concatenate(rows)


def _trunc_shift(p: np.ndarray, n: int, tmp: np.ndarray) -> None:
    """p <- sgn(p) * (|p| >> n) in place (division by 2**n rounded toward zero)."""
    np.right_shift(p, 63, out=tmp)
    tmp &= (1 << n) - 1
    p += tmp
    p >>= n


def run_layer(layer: IntegerLayer, net: IntegerNetwork, spikes_in: np.ndarray, steps: Optional[int] = None,
              check_overflow: bool = True) -> tuple[np.ndarray, dict[str, int]]:
    """One layer over ``steps`` steps (default: as many as the input has).

    ``spikes_in`` [T_in, B, *in_shape] holds the input of steps 0..T_in-1 (silent after).
    Returns output spikes uint8 [steps, B, N] and overflow counts.
    """
    tgt = net.target
    t_in, b = spikes_in.shape[:2]
    t = t_in if steps is None else steps
    n = layer.num_neurons
    delay = tgt.synaptic_delay
    used = min(t_in, t - delay)  # input of the last `delay` steps arrives after the run
    amax = tgt.activation_max
    info = {"a_in_saturated": 0, "u_wrapped": 0, "v_saturated": 0}
    syn = np.zeros((max(used, 0), b, n), np.int32)
    if layer.stateful:
        ff = np.zeros((max(used, 0), b, n))
        if used > 0:
            ff = synaptic_input(layer, spikes_in[:used].reshape(used * b, -1)).astype(np.float64)
            ff = (ff * 2.0 ** layer.weight_exp).reshape(used, b, n)
        bias = layer.bias_value()
        if bias is not None and len(layer.out_shape) == 3:
            bias = np.repeat(bias, int(np.prod(layer.out_shape[1:])))
        return stateful_steps(layer, tgt, ff, t, b, bias, check_overflow)
    if used > 0:
        a = synaptic_input(layer, spikes_in[:used].reshape(used * b, -1))
        a *= 2.0 ** layer.weight_exp  # exact: a power of two on an exact integer
        if check_overflow:
            info["a_in_saturated"] = int(np.count_nonzero((a > amax) | (a < -amax - 1)))
        np.clip(a, -amax - 1, amax, out=a)
        syn = a.astype(np.int32).reshape(used, b, n)
        syn <<= tgt.activation_shift
    unity, nbits = tgt.decay_unity, tgt.decay_bits
    fu, fv = unity - (layer.du + 1), unity - layer.dv
    thr = layer.vth << tgt.activation_shift
    bias = layer.bias_value()
    if bias is not None and len(layer.out_shape) == 3:
        bias = np.repeat(bias, int(np.prod(layer.out_shape[1:])))
    out = np.zeros((t, b, n), np.uint8)
    compiled = kernels.compiled_loops()
    if compiled is not None:  # one compiled pass; the numpy loop below is its reference
        overflow = np.zeros(2, np.int64)
        compiled["integer_lif_steps"](
            syn.reshape(syn.shape[0], b * n), delay, fu, fv, nbits, tgt.state_bits, thr,
            np.zeros(0, np.int64) if bias is None else bias.astype(np.int64), n,
            out.reshape(t, b * n), overflow)
        if check_overflow:
            info["u_wrapped"], info["v_saturated"] = int(overflow[0]), int(overflow[1])
        return out, info
    return neuron_steps_numpy(syn, delay, fu, fv, nbits, tgt.state_bits, thr, bias, out, info,
                              check_overflow), info


def neuron_steps_numpy(syn: np.ndarray, delay: int, fu: int, fv: int, nbits: int, state_bits: int,
                       thr: int, bias: Optional[np.ndarray], out: np.ndarray, info: dict[str, int],
                       check_overflow: bool) -> np.ndarray:
    """The neuron's time loop in numpy operations on [B, N] int64 state (the reference of
    the compiled loop in :mod:`spikelocal.kernels`, and the path without numba)."""
    t, b, n = out.shape
    used = syn.shape[0]
    vmax = 2 ** (state_bits - 1) - 1
    wrap = 64 - state_bits
    u = np.zeros((b, n), np.int64)
    v = np.zeros((b, n), np.int64)
    tmp = np.empty((b, n), np.int64)
    fired = np.empty((b, n), bool)
    for k in range(t):
        u *= fu
        _trunc_shift(u, nbits, tmp)
        if 0 <= k - delay < used:
            u += syn[k - delay]
        if check_overflow:
            info["u_wrapped"] += int(np.count_nonzero((u > vmax) | (u < -vmax - 1)))
        u <<= wrap  # keep the low state_bits bits, sign-extended: two's complement wrap
        u >>= wrap
        v *= fv
        _trunc_shift(v, nbits, tmp)
        v += u
        if bias is not None:
            v += bias
        if check_overflow:
            info["v_saturated"] += int(np.count_nonzero((v > vmax) | (v < -vmax)))
        np.clip(v, -vmax, vmax, out=v)
        np.greater(v, thr, out=fired)
        out[k] = fired
        np.putmask(v, fired, 0)
    return out


def simulate_integer(net: IntegerNetwork, input_spikes: np.ndarray, drain: Optional[int] = None,
                     check_overflow: bool = True, score_from: int = 0) -> IntegerResult:
    """Run the integer network on input spikes [T, B, *input_shape] (0/1)."""
    x = np.asarray(input_spikes)
    if drain is None:
        drain = net.target.synaptic_delay * len(net.layers)
    steps = x.shape[0]
    spikes, counts, overflow = [], [], []
    inp = x.astype(np.uint8, copy=False)
    for l, layer in enumerate(net.layers, start=1):
        out, info = run_layer(layer, net, inp, steps + drain, check_overflow)
        spikes.append(out)
        lag = l * net.target.synaptic_delay
        counts.append(out[lag:lag + steps].sum(0, dtype=np.int64))
        overflow.append(info)
        inp = out
    lag = len(net.layers) * net.target.synaptic_delay
    scores = spikes[-1][lag + score_from:lag + steps].sum(0, dtype=np.int64)
    return IntegerResult(spikes, counts, overflow, scores)
