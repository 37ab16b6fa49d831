"""How many samples of a batch go through the simulation at once: memory the user never tunes.

The tensors of one chunk grow with (time steps K) x (samples B) x (neurons): a conv layer of
64 channels on 28 x 28 holds 50,176 numbers per sample and step in each of its current,
spikes, membrane and surrogate derivative, so K = 25 steps of a batch of 128 need several GB.
There are two ways to bound that, and they cost differently:

- a shorter time chunk K: when the loss window (``rule.window: sample``, the default) is
  longer than the chunk, :mod:`spikelocal.core.windows` must simulate every window twice (a
  forward-only pass for the window's mean activity, then the updating replay), 1.5x the
  convolution work;
- fewer samples at once: every sample's simulation is independent of the others (the state,
  the traces and the loss are per sample; only the weight update sums over samples), so the
  batch can go through in sub-batches of whole samples with the chunk unchanged, in one pass.

So the chunk stays what ``training.time_chunk`` says and the batch is split into as few
sub-batches as keep a chunk's tensors within ``training.memory_budget_mb``. The updates are
the same sums in another order (equal to float32 rounding, as for two chunk lengths).
"""
from __future__ import annotations

import math
from typing import Sequence

from .layers import CHANNELS_LAST_MIN, Layer

FLOAT = 4
#: what a chunk's tensors may use when the config does not say (MB); with the process's own
#: ~300-400 MB (PyTorch, the data set) a run stays around 1.2 GB
DEFAULT_BUDGET_MB = 768


def bytes_per_sample_step(layers: Sequence[Layer]) -> int:
    """Memory of one sample and step of a training chunk of the three-factor rules, all layers.

    Per layer, alive together while a chunk's update is formed: the input and its trace, the
    current, spikes and membrane (overwritten by the surrogate derivative) and the pooled
    output; the conv weight update adds its operands' layout and precision copies and the
    convolution's own result before it returns to float32 (counted as one more input and two
    more outputs).
    """
    total = 0
    for layer in layers:
        inp, out, pooled = (math.prod(s) for s in (layer.in_shape, layer.out_shape, layer.pooled_shape))
        if layer.kind == "conv":
            extra = 2 * out + (inp if layer.in_shape[0] >= CHANNELS_LAST_MIN else 0)
        else:
            extra = 0
        total += FLOAT * (2 * inp + 3 * out + pooled + extra)
    return total


def sub_batch(layers: Sequence[Layer], chunk: int, batch: int, budget_mb: float | None) -> int:
    """The most samples whose chunk of ``chunk`` steps fits ``budget_mb`` (None: the batch).

    At least one sample: a single sample over one chunk is the smallest unit the simulation
    has (a shorter ``training.time_chunk`` lowers it further)."""
    if budget_mb is None:
        return batch
    per_sample = bytes_per_sample_step(layers) * chunk
    fits = int(budget_mb * 2**20 // per_sample)
    return max(1, min(batch, fits))


def splits(batch: int, size: int) -> list[slice]:
    """``batch`` samples in sub-batches of at most ``size``, as equal as possible."""
    parts = -(-batch // size)
    bounds = [round(i * batch / parts) for i in range(parts + 1)]
    return [slice(a, b) for a, b in zip(bounds, bounds[1:])]
