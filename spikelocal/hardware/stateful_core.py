"""The integer step loop for compartments the plain LIF loop of :mod:`.simulator` does not
cover: recurrent synapses, an adaptive threshold, subtractive reset, a linear output.

Per step k, with the equations of :mod:`.fixed_point` (state int64 [B, N])::

    a_in = sat16( ff[k - delay] + R_eff s[k - 1] )     the input and the layer's own spikes, one sum
    u    = wrap( trunc(u fu / unity) + (a_in << shift) )
    v    = sat( trunc(v fv / unity) + u + bias )
    s[k] = v - z > vth << shift                       z: the adaptation before this step (0 without)
    v   <- 0 (hard) or v - (vth << shift) (subtract) where s[k]
    z    = trunc(z fz / unity) + jump s[k]

Why one step at a time: R s[k-1] needs the spikes of the step before, so the recurrent sum is
an exact [B, N] x [N, N] product per step (float64, every partial sum an integer far below
2**53). A linear layer keeps no u, v or z: it hands ``(a_in << shift) + bias`` to the host.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .fixed_point import IntegerLayer
from .targets import Target


def _trunc_mul(x: np.ndarray, factor: int, nbits: int) -> np.ndarray:
    """trunc(x * factor / 2**nbits): division rounded toward zero, in int64."""
    p = x * factor
    return (p + ((p >> 63) & ((1 << nbits) - 1))) >> nbits


def stateful_steps(layer: IntegerLayer, tgt: Target, ff: np.ndarray, steps: int, batch: int,
                   bias: Optional[np.ndarray], check_overflow: bool) -> tuple[np.ndarray, dict[str, int]]:
    """Run ``steps`` steps given the exact feed-forward sums ``ff`` [used, B, N] (float64,
    already times 2**weight_exp, not saturated). Returns spikes uint8 [steps, B, N] (a linear
    layer: its int64 outputs) and overflow counts."""
    n = layer.num_neurons
    delay, shift, nbits = tgt.synaptic_delay, tgt.activation_shift, tgt.decay_bits
    amax, vmax = tgt.activation_max, 2 ** (tgt.state_bits - 1) - 1
    wrap = 64 - tgt.state_bits
    fu, fv, fz = tgt.decay_unity - (layer.du + 1), tgt.decay_unity - layer.dv, tgt.decay_unity - layer.adapt_decay
    thr = layer.vth << shift
    rec = None
    if layer.recurrent is not None:
        rec = (layer.recurrent.astype(np.float64) * 2.0 ** layer.weight_exp).T  # exact integers
    info = {"a_in_saturated": 0, "u_wrapped": 0, "v_saturated": 0}
    out = np.zeros((steps, batch, n), np.int64 if layer.linear else np.uint8)
    u = np.zeros((batch, n), np.int64)
    v = np.zeros((batch, n), np.int64)
    z = np.zeros((batch, n), np.int64)
    last = np.zeros((batch, n), np.float64)
    for k in range(steps):
        a = np.zeros((batch, n), np.float64)
        if 0 <= k - delay < ff.shape[0]:
            a += ff[k - delay]
        if rec is not None:
            a += last @ rec
        if check_overflow:
            info["a_in_saturated"] += int(np.count_nonzero((a > amax) | (a < -amax - 1)))
        a_in = np.clip(a, -amax - 1, amax).astype(np.int64) << shift
        if layer.linear:
            out[k] = a_in if bias is None else a_in + bias
            continue
        u = _trunc_mul(u, fu, nbits) + a_in
        if check_overflow:
            info["u_wrapped"] += int(np.count_nonzero((u > vmax) | (u < -vmax - 1)))
        u = (u << wrap) >> wrap  # two's complement wrap to state_bits
        v = _trunc_mul(v, fv, nbits) + u
        if bias is not None:
            v += bias
        if check_overflow:
            info["v_saturated"] += int(np.count_nonzero((v > vmax) | (v < -vmax)))
        np.clip(v, -vmax, vmax, out=v)
        fired = (v - z) > thr
        out[k] = fired
        if layer.reset == "hard":
            v[fired] = 0
        else:
            v[fired] -= thr
        if layer.adapt_jump is not None:
            z = np.minimum(_trunc_mul(z, fz, nbits) + layer.adapt_jump * fired, vmax)
        last = fired.astype(np.float64)
    return out, info
