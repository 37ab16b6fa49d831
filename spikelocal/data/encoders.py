"""Spike encodings of static inputs in [0, 1], produced lazily in chunks of K time steps so
that memory does not grow with T. Every random draw comes from the generator passed in, so
the same seed gives the same spikes.

- ``rate``:    s[t] ~ Bernoulli(gain * x), independent across steps (Poisson-like; p in 1/65536 steps).
- ``latency``: one spike at t = round((1 - x) (T - 1)) for x > 0.1 (bright pixels first).
- ``direct``:  the analog value x is the input current at every step (T = 1: a rate net).
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import torch
from torch import Tensor

from .. import seeds
from ..kernels import bernoulli_u16
from ..registry import Registry

Encoder = Callable[[Tensor, int, int, float, torch.Generator], Iterator[Tensor]]
ENCODERS: Registry[Encoder] = Registry("encoding")


def _spans(steps: int, chunk: int) -> Iterator[tuple[int, int]]:
    for start in range(0, steps, chunk):
        yield start, min(chunk, steps - start)


@ENCODERS.register("rate")
def rate(x: Tensor, steps: int, chunk: int, gain: float, gen: torch.Generator) -> Iterator[Tensor]:
    """Bernoulli spikes: a spike where a uniform 16-bit integer is below round(65536 p).

    The probabilities are thus quantised to 1/65536 (MNIST's pixels have steps of 1/255;
    p = 1 still spikes every step). Why 16-bit integers and not uniform floats: they need
    half the generator's output, and the compare runs with the float conversion in one
    compiled pass; with floats and a torch conversion the encoder took a tenth of a training
    step. The draws come from numpy's PCG64 seeded by one draw of ``gen`` per batch, so the
    spikes are fully determined by ``gen`` (same seed, same spikes; resuming stays bit-exact).

    Input on another device (a GPU) is encoded there, by :func:`rate_on_device`: the same
    probabilities and compare, with the integers drawn by a torch generator of that device
    seeded by the same draw of ``gen``. That is another random stream: the same seed gives
    the same spikes on the same kind of device, not the CPU's spikes.
    """
    seed = int(torch.randint(0, 2**62, (1,), generator=gen))
    if x.device.type != "cpu":
        yield from rate_on_device(x, steps, chunk, gain, seed)
        return
    rng = np.random.default_rng(seed)
    p = x.detach().to(torch.float32).reshape(-1).numpy() * np.float32(gain)
    thresholds = np.clip(np.rint(p * np.float32(65536.0)), 0, 65536).astype(np.int32)
    n = thresholds.shape[0]
    # numpy makes two 16-bit draws per 32-bit word and drops an odd last half-word: an even
    # count per step keeps the stream the same for any chunking
    for _, k in _spans(steps, chunk):
        draws = rng.integers(0, 65536, size=(k, n + n % 2), dtype=np.uint16)
        yield bernoulli_u16(draws[:, :n], thresholds).view(k, *x.shape)


def rate_on_device(x: Tensor, steps: int, chunk: int, gain: float, seed: int) -> Iterator[Tensor]:
    """The rate encoding drawn where ``x`` lives (no host round trip per chunk): 16-bit
    integers from a generator of ``x``'s device seeded by ``seed``, compared with
    round(65536 p) as on the CPU. One [N] draw per step, so the spikes do not depend on
    the chunk length (a memory setting): a generator's stream for one [K, N] draw differs
    from K draws of [N] (CUDA's Philox advances its offset per call)."""
    gen = torch.Generator(device=x.device).manual_seed(seed)
    p = x.detach().to(torch.float32).reshape(-1) * gain
    thresholds = torch.clamp(torch.round(p * 65536.0), 0, 65536).to(torch.int32)
    n = thresholds.shape[0]
    for _, k in _spans(steps, chunk):
        draws = torch.stack([torch.randint(0, 65536, (n,), generator=gen, device=x.device, dtype=torch.int32)
                             for _ in range(k)])
        yield (draws < thresholds).to(torch.float32).view(k, *x.shape)


@ENCODERS.register("latency")
def latency(x: Tensor, steps: int, chunk: int, gain: float, gen: torch.Generator) -> Iterator[Tensor]:
    t_spike = torch.round((1 - x) * (steps - 1))
    t_spike = torch.where(x > 0.1, t_spike, torch.full_like(t_spike, -1.0))
    for start, k in _spans(steps, chunk):
        t = torch.arange(start, start + k, dtype=x.dtype, device=x.device).view(k, *([1] * x.dim()))
        yield (t_spike.unsqueeze(0) == t).to(torch.float32)


@ENCODERS.register("direct")
def direct(x: Tensor, steps: int, chunk: int, gain: float, gen: torch.Generator) -> Iterator[Tensor]:
    for _, k in _spans(steps, chunk):
        yield x.unsqueeze(0).expand(k, *x.shape)


class SpikeEncoder:
    """An encoding as an object for a user's own loop: ``encoder(x)`` turns a batch of static
    inputs (uint8 pixels, or floats in [0, 1]) into an iterator over chunks [K, B, *shape].

    Each call draws from its own generator, seeded by (``seed``, call number), so a loop that
    makes the same calls gets the same spikes.
    """

    def __init__(self, kind: str = "rate", steps: int = 25, gain: float = 1.0,
                 chunk: int | None = None, seed: int = 0) -> None:
        self.encode = ENCODERS.get(kind)
        self.kind, self.steps, self.gain, self.seed = kind, steps, gain, seed
        self.chunk = chunk or steps
        self.calls = 0

    def __call__(self, x: Tensor) -> Iterator[Tensor]:
        unit = x.to(torch.float32).div_(255.0) if x.dtype == torch.uint8 else x.to(torch.float32)
        gen = torch.Generator().manual_seed(seeds.spike_encoder_seed(self.seed, self.calls))
        self.calls += 1
        return self.encode(unit, self.steps, self.chunk, self.gain, gen)
