"""Quantisation of a trained float CUBA-LIF network onto a target's fixed-point compartment.

Float layer (:mod:`spikelocal.core.neurons`)::

    I[t] = alpha I[t-1] + W s[t],   V[t] = beta V[t-1] + I[t] + b,   spike V > theta, V <- 0

Integer compartment (:mod:`spikelocal.hardware.simulator`, shift = ``activation_shift`` = 6,
unity = 2**decay_bits = 4096)::

    u[t] = trunc(u[t-1] (unity - du - 1) / unity) + (a_in[t] << shift)       wraps
    v[t] = sat(trunc(v[t-1] (unity - dv) / unity) + u[t] + (bias_mant << bias_exp))
    spike v > vth << shift, v <- 0;   a_in[t] = sum_j (w_mant_ij << exp) s_j[t - 1]

The network's spikes are unchanged when W, b and theta are multiplied by the same S > 0, so
each layer picks its own scale S (u units per float unit)::

    du = round(unity (1 - alpha)) - 1     dv = round(unity (1 - beta))
    w_mant = g * round(W / c * m)         m = 2**(bits-1) - 1, g = 2**(value_bits - bits)
    S = m g 2**(exp + shift) / c          vth = round(theta S / 2**shift)
    bias_mant << bias_exp ~= b S          (smallest bias_exp whose mantissa fits)

``c`` (the clip value) minimises the squared error of rounding plus clipping over a grid of
candidates between 0.02 max|W| and max|W|: most precision for the least clipping. The
exponent is then the largest one for which the activity measured on calibration input
(max |W s|, |I|, |V| of the float net) fits the int16 synaptic input and half of the 24-bit
state, and vth fits its 17 bits: the finest voltage resolution that does not overflow.
Mantissas are symmetric (+-m g): the chip's extra negative code is left unused.

Recurrent layers, adaptive thresholds, subtractive reset and a linear output (the float
model's ``kind: recurrent``, ``alif``, ``reset: subtract`` and a ``linear`` output layer)::

    a_in[t] = sum_j w_ij s_j[t-1] + sum_k r_ik z_k[t-1]     input and recurrent synapses, one sum
    z[t]    = trunc(z[t-1] (unity - da) / unity) + jump s[t]   adaptation, v units
    spike v - z[t-1] > vth << shift                            A[t] = theta + beta_a a[t-1]
    subtract: v <- v - (vth << shift) where s                  V <- V - theta
    linear output: y[t] = (a_in[t] << shift) + bias            y = W s + b, read by the host

W and the recurrent matrix R feed the same compartment current, so they are quantised as one
matrix [W | R] (one clip, one exponent): the scheme of a feed-forward layer applied to the
concatenation. A spike reaches its own layer one step later (the float layer reads
s[t-1]), which is the chip's synaptic delay: a target with another delay is refused.
``da = round(unity (1 - rho))`` and ``jump = round(beta_a S)``: the float adaptation beta_a a
in the units of v. The adaptation is a third decaying state per compartment (as u and v);
the calibration adds its largest float value to the voltage range the exponent must hold.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

import numpy as np
import torch

from .. import seeds
from ..errors import ExportError
from ..core.network import Network
from .targets import Target

Rounding = Literal["nearest", "stochastic"]


@dataclass
class IntegerLayer:
    """One layer of integer synapses and compartments (fields: see the package docstring)."""

    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    weight: np.ndarray
    weight_exp: int
    du: int
    dv: int
    vth: int
    bias_mant: Optional[np.ndarray] = None
    bias_exp: int = 0
    kernel: int = 1
    stride: int = 1
    padding: int = 0
    scale: float = 1.0
    pool_folded: int = 1
    recurrent: Optional[np.ndarray] = None   # [N, N] mantissas from the layer's own spikes
    reset: str = "hard"                      # "hard" (v <- 0) or "subtract" (v <- v - vth << shift)
    adapt_decay: int = 0                     # da of the adaptive threshold
    adapt_jump: Optional[int] = None         # its rise per spike in v units (None: no adaptation)
    linear: bool = False                     # no compartment: y = (a_in << shift) + bias each step

    @property
    def stateful(self) -> bool:
        """Needs the general step loop (:mod:`.stateful_core`) rather than the plain LIF one."""
        return self.recurrent is not None or self.adapt_jump is not None or self.reset != "hard" or self.linear

    @property
    def num_neurons(self) -> int:
        return math.prod(self.out_shape)

    @property
    def num_inputs(self) -> int:
        return math.prod(self.in_shape)

    def effective_weight(self) -> np.ndarray:
        """w_mant * 2**exp as exact int64 (mantissas are multiples of 2**-exp when exp < 0)."""
        w = self.weight.astype(np.int64)
        return w << self.weight_exp if self.weight_exp >= 0 else w >> -self.weight_exp

    def bias_value(self) -> Optional[np.ndarray]:
        return None if self.bias_mant is None else self.bias_mant.astype(np.int64) << self.bias_exp


@dataclass
class IntegerNetwork:
    layers: list[IntegerLayer]
    input_shape: tuple[int, ...]
    target: Target
    weight_bits: int
    num_classes: int
    report: list[dict[str, Any]] = field(default_factory=list)  # per layer: what was lost


@dataclass
class LayerStats:
    """Float activity on calibration input (see :mod:`.reference`)."""

    max_input: float
    max_current: float
    max_voltage: float
    max_adaptation: float = 0.0   # ALIF: largest beta_a a (the threshold's rise)


def decays(alpha: float, beta: float, target: Target) -> tuple[int, int]:
    """du, dv with (unity - du - 1)/unity ~ alpha and (unity - dv)/unity ~ beta."""
    unity = target.decay_unity
    du = min(max(round(unity * (1.0 - alpha)) - 1, 0), unity - 1)
    dv = min(max(round(unity * (1.0 - beta)), 0), unity - 1)
    return du, dv


def weight_grid(weight_bits: int, target: Target) -> tuple[int, int]:
    """(granularity g, largest code m): mantissas are g * k with |k| <= m."""
    if not 2 <= weight_bits <= target.weight_bits_max:
        raise ExportError(f"--weight-bits {weight_bits}: target {target.name} takes 2 to {target.weight_bits_max}")
    return 2 ** (target.weight_value_bits - weight_bits), 2 ** (weight_bits - 1) - 1


def choose_clip(weight: np.ndarray, m: int) -> float:
    """Clip value c minimising rounding + clipping error of ``round(W / c * m)``."""
    w = np.abs(weight.astype(np.float64)).ravel()
    top = float(w.max()) if w.size else 0.0
    if top == 0.0:
        return 1.0
    if w.size > 200_000:
        w = w[np.random.default_rng(seeds.QUANTILE_SUBSAMPLE).choice(w.size, 200_000, replace=False)]
    best, best_err = top, math.inf
    for frac in np.geomspace(1.0, 0.02, 80):
        c = top * frac
        q = np.minimum(np.round(w / c * m), m) * c / m
        err = float(np.square(w - q).sum())
        if err < best_err:
            best, best_err = c, err
    return best


def round_codes(x: np.ndarray, rounding: Rounding, rng: np.random.Generator) -> np.ndarray:
    if rounding == "stochastic":
        return np.floor(x + rng.random(x.shape))
    return np.round(x)


def fold_pool(weight: np.ndarray, kind: str, in_shape: tuple[int, ...], pool: int,
              stride: int, padding: int) -> tuple[np.ndarray, tuple[int, ...], int, int]:
    """Fold the previous layer's p x p sum pooling into these synapses (package docstring)."""
    if pool == 1:
        return weight, in_shape, stride, padding
    c, h, w = in_shape
    if kind == "dense":
        folded = weight.reshape(weight.shape[0], c, h, w).repeat(pool, axis=2).repeat(pool, axis=3)
        return folded.reshape(weight.shape[0], -1), (c, h * pool, w * pool), stride, padding
    folded = weight.repeat(pool, axis=2).repeat(pool, axis=3)
    return folded, (c, h * pool, w * pool), stride * pool, padding * pool


def check_convertible(net: Network, target: Target) -> None:
    """Raise the one-line ExportError of the first layer the target's cores cannot hold; run
    before anything costly (calibration data) so the user hears about the network first."""
    for i, layer in enumerate(net.layers):
        _check_layer(i, layer, target)


def _check_layer(i: int, layer: torch.nn.Module, target: Target) -> None:
    name = f"layer {i + 1} ({layer.kind})"
    linear_out = layer.is_output and layer.neuron_cfg.kind == "linear"
    if not layer.neuron.spiking and not linear_out:
        raise ExportError(f"{name}: neuron kind {layer.neuron_cfg.kind!r} has no integer compartment; "
                          "conversion needs LIF or ALIF neurons (a linear output layer is read by the host)")
    if layer.kind == "recurrent" and target.synaptic_delay != 1:
        raise ExportError(f"{name}: target {target.name} has synaptic_delay {target.synaptic_delay}; a "
                          "recurrent layer reads its spikes of the previous step, which needs delay 1")
    for pname, p in (("weights", layer.weight), ("bias", layer.bias), ("recurrent weights", layer.recurrent)):
        if p is not None and not torch.isfinite(p).all():
            raise ExportError(f"{name}: {pname} contain NaN or infinite values")


def _adaptation(layer: torch.nn.Module, scale: float, target: Target) -> tuple[int, Optional[int]]:
    """(da, jump) of an ALIF layer (package docstring); (0, None) for any other neuron."""
    if layer.neuron_cfg.kind != "alif":
        return 0, None
    unity = target.decay_unity
    da = min(max(round(unity * (1.0 - layer.neuron.rho)), 0), unity - 1)
    return da, int(round(layer.neuron.adapt * scale))


def quantize_network(net: Network, target: Target, weight_bits: int = 8, rounding: Rounding = "nearest",
                     stats: Optional[list[LayerStats]] = None, seed: int = 0,
                     clips: Optional[list[float]] = None) -> IntegerNetwork:
    """Integer network for ``target``; ``stats`` (float activity) set the exponents.

    Without ``stats`` the exponent assumes the worst case (every input spiking at once).
    ``clips`` forces the clip value of each layer (used by fine-tuning, which trains on a
    fixed grid).
    """
    g, m = weight_grid(weight_bits, target)
    rng = np.random.default_rng(seed)
    shift = target.activation_shift
    exp_lo = max(target.weight_exp_min, -(target.weight_value_bits - weight_bits))
    layers: list[IntegerLayer] = []
    report: list[dict[str, Any]] = []
    prev_pool = 1
    for i, layer in enumerate(net.layers):
        _check_layer(i, layer, target)
        w = layer.weight.detach().double().numpy()
        stride = layer.cfg.stride if layer.kind == "conv" else 1
        padding = layer.cfg.padding if layer.kind == "conv" else 0
        w, in_shape, stride, padding = fold_pool(w, layer.kind, tuple(layer.in_shape), prev_pool, stride, padding)
        n_in = w.shape[1] if layer.kind == "recurrent" else 0
        if layer.kind == "recurrent":  # [W | R]: one current, one scale (package docstring)
            w = np.concatenate([w, layer.recurrent_weight().detach().double().numpy()], axis=1)
        c = clips[i] if clips is not None else choose_clip(w, m)
        codes = w / c * m
        clipped = int(np.count_nonzero(np.abs(np.round(codes)) > m))
        k = np.clip(round_codes(codes, rounding, rng), -m, m)
        mant = (k * g).astype(np.int64)
        err = w - k * c / m
        linear = not layer.neuron.spiking
        theta = 0.0 if linear else layer.neuron.threshold
        fan_in = w.reshape(w.shape[0], -1)
        if stats is not None:
            st = stats[i]
        else:
            worst = float(np.abs(fan_in).sum(1).max())
            st = (LayerStats(worst, worst, worst) if linear else
                  LayerStats(worst, worst / (1 - layer.neuron.alpha),
                             worst / ((1 - layer.neuron.alpha) * (1 - layer.neuron.beta))))
        exp = exp_lo
        for e in range(target.weight_exp_max, exp_lo - 1, -1):
            s = m * g * 2.0 ** (e + shift) / c
            if (st.max_input * s / 2 ** shift <= 0.9 * target.activation_max
                    and max(st.max_current, st.max_voltage, theta + st.max_adaptation) * s <= target.state_max / 2
                    and round(theta * s / 2 ** shift) <= target.threshold_max):
                exp = e
                break
        scale = m * g * 2.0 ** (exp + shift) / c
        vth_raw = round(theta * scale / 2 ** shift)
        vth = int(min(max(vth_raw, 0), target.threshold_max))
        du, dv = (0, 0) if linear else decays(layer.neuron.alpha, layer.neuron.beta, target)
        adapt_decay, adapt_jump = _adaptation(layer, scale, target)
        rec_mant = None
        if layer.kind == "recurrent":
            mant, rec_mant = mant[:, :n_in].copy(), mant[:, n_in:].copy()
        bias_mant, bias_exp, bias_clipped, bias_err = None, 0, 0, 0.0
        if layer.bias is not None:
            b = layer.bias.detach().double().numpy() * scale
            bmax = target.bias_mant_max
            for bias_exp in range(target.bias_exp_max + 1):
                if np.abs(np.round(b / 2 ** bias_exp)).max(initial=0) <= bmax:
                    break
            raw = np.round(b / 2 ** bias_exp)
            bias_clipped = int(np.count_nonzero(np.abs(raw) > bmax))
            bias_mant = np.clip(raw, -bmax, bmax).astype(np.int64)
            bias_err = float(np.sqrt(np.mean(np.square(b - bias_mant * 2.0 ** bias_exp)))) / scale
        layers.append(IntegerLayer(
            kind="conv" if layer.kind == "conv" else "dense", in_shape=tuple(in_shape),
            out_shape=tuple(layer.out_shape), weight=mant,
            weight_exp=exp, du=du, dv=dv, vth=vth, bias_mant=bias_mant, bias_exp=bias_exp,
            kernel=w.shape[-1] if layer.kind == "conv" else 1, stride=stride, padding=padding,
            scale=scale, pool_folded=prev_pool, recurrent=rec_mant,
            reset="hard" if linear or layer.neuron.hard_reset else "subtract",
            adapt_decay=adapt_decay, adapt_jump=adapt_jump, linear=linear))
        unity = target.decay_unity
        report.append({
            "layer": i + 1, "kind": layer.kind, "weight_exp": exp, "clip": c,
            "clip_fraction_of_max": c / float(np.abs(w).max()) if np.abs(w).max() > 0 else 1.0,
            "weights_clipped": clipped, "weights_clipped_fraction": clipped / w.size,
            "weights_zeroed": int(np.count_nonzero((k == 0) & (w != 0))),
            "weight_rms_error": float(np.sqrt(np.mean(np.square(err)))),
            "weight_rms": float(np.sqrt(np.mean(np.square(w)))),
            "tau_syn": layer.neuron_cfg.tau_syn, "tau_mem": layer.neuron_cfg.tau_mem, "dt": layer.neuron_cfg.dt,
            "du": du, "dv": dv, "alpha": getattr(layer.neuron, "alpha", None), "alpha_fixed": (unity - du - 1) / unity,
            "beta": getattr(layer.neuron, "beta", None), "beta_fixed": (unity - dv) / unity,
            "threshold": theta, "vth": vth, "threshold_fixed": vth * 2 ** shift / scale,
            "threshold_clipped": vth != vth_raw,
            "scale": scale, "bias_exp": bias_exp, "bias_clipped": bias_clipped, "bias_rms_error": bias_err,
            "pool_folded": prev_pool, "recurrent": rec_mant is not None, "linear_output": linear,
            "reset": "hard" if linear or layer.neuron.hard_reset else "subtract",
        })
        if adapt_jump is not None:
            report[-1].update({"adapt_decay": adapt_decay, "adapt_jump": adapt_jump, "rho": layer.neuron.rho,
                               "rho_fixed": (unity - adapt_decay) / unity, "adaptation": layer.neuron.adapt,
                               "adaptation_fixed": adapt_jump / scale})
        prev_pool = layer.cfg.pool if layer.kind == "conv" else 1
    return IntegerNetwork(layers, tuple(net.input_shape), target, weight_bits, net.num_classes, report)


def project_to_grid(weight: torch.Tensor, clip: float, weight_bits: int, target: Target,
                    rounding: Rounding, generator: Optional[torch.Generator] = None) -> None:
    """Put float weights back on the layer's fixed-point grid in place (fine-tuning)."""
    _, m = weight_grid(weight_bits, target)
    codes = weight / clip * m
    if rounding == "stochastic":
        codes = torch.floor(codes + torch.rand(codes.shape, generator=generator))
    else:
        codes = torch.round(codes)
    weight.copy_(codes.clamp_(-m, m) * (clip / m))
