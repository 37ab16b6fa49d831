"""From a trained float network to the integer arithmetic and cores of a neuromorphic chip.

Python API (stable; the exporters build on it)::

    from spikelocal.hardware import (load_target, quantize_network, simulate_integer,
                                     map_network, write_corefile, read_corefile, convert)

    target  = load_target("loihi")                  # name of a built-in description or a YAML path
    int_net = quantize_network(net, target, weight_bits=8, rounding="nearest")
    result  = simulate_integer(int_net, spikes)      # spikes: int/bool array [T, B, *input_shape]
    result.spikes[l]                                 # uint8 [T + drain, B, N_l] spikes of layer l
    result.counts[l]                                 # int64 [B, N_l] spike counts over layer l's
                                                     # window [l, l + T) (one step of delay a layer)
    result.overflow[l]                               # a_in saturated / u wrapped / v saturated events
    mapping = map_network(int_net, target)           # Mapping: cores per layer, per-core use
    write_corefile(path, int_net, mapping)           # documented HDF5 core file (corefile.py)
    int_net2 = read_corefile(path)                   # the same IntegerNetwork, spike for spike
    summary = convert(run_dir, out_dir, target="loihi", weight_bits=8)  # what the CLI runs

``IntegerNetwork`` (fixed_point.py) holds ``layers: list[IntegerLayer]``, ``input_shape``,
``target`` (a :class:`Target`), ``weight_bits`` and ``num_classes``. One ``IntegerLayer`` per
float layer, all integers as numpy int64:

    kind          "dense" | "conv"
    in_shape      shape of the axons it reads (the previous layer's *unpooled* neurons)
    out_shape     shape of its neurons, [N] or [C, H, W]
    weight        mantissas; dense [N_out, N_in], conv [C_out, C_in, k, k]
    weight_exp    shared exponent: effective weight = weight * 2**weight_exp
    kernel, stride, padding   conv geometry (after folding the previous layer's pooling)
    du, dv, vth   12-bit decays and threshold mantissa (spike where v > vth << 6)
    bias_mant, bias_exp       bias mantissa (int64 [N] dense, [C_out] conv, or None), shared exponent
    scale         float -> u/v units (documentation: W * scale ~= weight * 2**(exp + 6))
    pool_folded   pooling factor of the previous layer folded into these synapses (1 = none)
    recurrent     mantissas [N, N] from the layer's own spikes of the previous step, or None
    reset         "hard" (v <- 0) or "subtract" (v <- v - vth << 6)
    adapt_decay, adapt_jump   ALIF: decay and rise per spike of the adaptive threshold (None: none)
    linear        a linear output read by the host: (a_in << 6) + bias each step, no compartment

Sum pooling is folded into the *next* layer's synapses: a pooled sum of spikes is linear, so
a dense layer after a p x p pooled conv reads every unpooled neuron with the weight of its
pooled position, and a conv layer with kernel k, stride s, padding q after pooling p becomes
a conv with kernel k*p, stride s*p, padding q*p on the unpooled map. Pooling thus costs no
neurons on a core (it costs axons and synapses instead), and spikes stay binary.
"""
from __future__ import annotations

from .targets import Target, load_target, known_targets
from .fixed_point import IntegerLayer, IntegerNetwork, check_convertible, quantize_network
from .simulator import IntegerResult, simulate_integer
from .mapping import Mapping, map_network
from .corefile import read_corefile, write_corefile
from .convert import convert  # noqa: E402

__all__ = [
    "Target", "load_target", "known_targets", "IntegerLayer", "IntegerNetwork",
    "check_convertible", "quantize_network", "IntegerResult", "simulate_integer", "Mapping", "map_network",
    "read_corefile", "write_corefile", "convert",
]
