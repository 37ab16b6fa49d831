"""Spike encodings of static inputs in [0, 1], produced lazily in chunks of K time steps so
that memory does not grow with T. Every random draw comes from the generator passed in, so
the same seed gives the same spikes.

- ``rate``:    s[t] ~ Bernoulli(gain * x), independent across steps (Poisson-like).
- ``latency``: one spike at t = round((1 - x) (T - 1)) for x > 0.1 (bright pixels first).
- ``direct``:  the analog value x is the input current at every step (T = 1: a rate net).
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import torch
from torch import Tensor

from ..registry import Registry

Encoder = Callable[[Tensor, int, int, float, torch.Generator], Iterator[Tensor]]
ENCODERS: Registry[Encoder] = Registry("encoding")


def _spans(steps: int, chunk: int) -> Iterator[tuple[int, int]]:
    for start in range(0, steps, chunk):
        yield start, min(chunk, steps - start)


@ENCODERS.register("rate")
def rate(x: Tensor, steps: int, chunk: int, gain: float, gen: torch.Generator) -> Iterator[Tensor]:
    """Bernoulli spikes. The uniform numbers come from numpy's PCG64 seeded by one draw of
    ``gen`` per batch: twice as fast as torch's CPU generator (the encoder was a fifth of a
    training step), and still fully determined by ``gen`` (so resuming stays bit-exact)."""
    rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=gen)))
    p = (x * gain).to(torch.float32).contiguous().numpy()
    for _, k in _spans(steps, chunk):
        uniform = rng.random((k, *x.shape), dtype=np.float32)
        yield torch.from_numpy(uniform < p).to(torch.float32)


@ENCODERS.register("latency")
def latency(x: Tensor, steps: int, chunk: int, gain: float, gen: torch.Generator) -> Iterator[Tensor]:
    t_spike = torch.round((1 - x) * (steps - 1))
    t_spike = torch.where(x > 0.1, t_spike, torch.full_like(t_spike, -1.0))
    for start, k in _spans(steps, chunk):
        t = torch.arange(start, start + k, dtype=x.dtype).view(k, *([1] * x.dim()))
        yield (t_spike.unsqueeze(0) == t).to(torch.float32)


@ENCODERS.register("direct")
def direct(x: Tensor, steps: int, chunk: int, gain: float, gen: torch.Generator) -> Iterator[Tensor]:
    for _, k in _spans(steps, chunk):
        yield x.unsqueeze(0).expand(k, *x.shape)
