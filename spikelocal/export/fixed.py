"""The fixed-point network behind the netx and core-file exports, built with
:mod:`spikelocal.hardware` exactly as ``spikelocal convert`` builds it: exponents calibrated on
the float network's activity for a few hundred encoded training images.
"""
from __future__ import annotations

import logging
from typing import Any, Optional

import torch

from .. import seeds
from ..data import batch_generator, encode, load_dataset
from ..errors import DataError, ExportError
from ..core.network import Network
from .common import require_hard_reset, require_spiking
from ..hardware import check_convertible, load_target, quantize_network
from ..hardware.convert import calibration_stats

log = logging.getLogger(__name__)
CALIBRATION_IMAGES = 256


def integer_network(config: Any, net: Network, target: str = "loihi", weight_bits: int = 8,
                    calibrate: bool = True, max_weight_exp: Optional[int] = None,
                    fmt: str = "netx", stateful_ok: bool = False):
    """Quantise ``net`` for ``target``; without data (or ``calibrate=False``) the exponents
    assume every input spikes at once (safe, coarser). ``max_weight_exp`` caps the weight
    exponent (netx: 0, since lava-dl reads plain 8-bit integer weights).

    ``stateful_ok``: the format holds every compartment of :mod:`spikelocal.hardware.fixed_point`
    (the core file: adaptive thresholds, subtractive reset, a linear output read by the host),
    so only the quantiser's own checks apply; otherwise (netx) LIF with the hard reset only."""
    tgt = load_target(target)
    if stateful_ok:
        check_convertible(net, tgt)
    else:
        require_spiking(net, fmt)
        require_hard_reset(net, fmt)
    if config is not None and config.data.encoding not in ("rate", "latency"):
        raise ExportError(f"data.encoding {config.data.encoding!r} gives analog input; {fmt} "
                          "needs spike input (rate or latency)")
    if max_weight_exp is not None and tgt.weight_exp_max > max_weight_exp:
        tgt = tgt.model_copy(update={"weight_exp_max": max(max_weight_exp, tgt.weight_exp_min)})
    stats: Optional[list] = None
    if calibrate and config is not None:
        spikes = calibration_spikes(config)
        if spikes is not None:
            stats = calibration_stats(net, spikes)
    return quantize_network(net, tgt, weight_bits, "nearest", stats=stats)


def calibration_spikes(config: Any) -> Optional[torch.Tensor]:
    """Encoded training images [T, B, ...] for calibration, or None when the data is missing."""
    try:
        data = load_dataset(config.data, config.seed)
    except DataError as exc:
        log.warning("no data for calibration (%s); using worst-case exponents", exc)
        return None
    x = data.train_x[:CALIBRATION_IMAGES]
    return torch.cat(list(encode(config, x, batch_generator(config.seed + seeds.CALIBRATION, 1, 0))))
