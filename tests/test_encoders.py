"""The spike encoders: rates and edge probabilities of the Bernoulli encoder, determinism,
chunking, and the spike times of the latency code."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from spikelocal.data import ENCODERS
from spikelocal.data.encoders import rate_on_device
from spikelocal.kernels import bernoulli_u16


def _encode(name: str, x: torch.Tensor, steps: int, chunk: int, seed: int = 0, gain: float = 1.0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.cat(list(ENCODERS.get(name)(x, steps, chunk, gain, gen)))


def test_rate_spikes_with_the_pixel_probability_and_never_or_always_at_the_ends():
    x = torch.tensor([[0.0, 1.0, 0.05, 0.3, 0.5, 0.9]]).repeat(64, 1)
    spikes = _encode("rate", x, 400, 25)
    assert spikes.shape == (400, 64, 6) and spikes.dtype == torch.float32
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    rate = spikes.mean(dim=(0, 1))
    assert rate[0] == 0.0 and rate[1] == 1.0
    # 25,600 draws per pixel: the standard error is below 0.0032
    assert torch.allclose(rate[2:], x[0, 2:], atol=0.012)


def test_rate_gain_scales_the_probability_and_clips_at_one():
    x = torch.full((32, 4), 0.4)
    assert _encode("rate", x, 200, 50, gain=0.5).mean().item() == pytest.approx(0.2, abs=0.01)
    assert _encode("rate", x, 50, 50, gain=3.0).min().item() == 1.0


def test_rate_is_determined_by_the_generator_and_independent_of_the_chunking():
    x = torch.rand(16, 10, generator=torch.Generator().manual_seed(5))
    a = _encode("rate", x, 30, 30, seed=1)
    assert torch.equal(a, _encode("rate", x, 30, 30, seed=1))
    assert not torch.equal(a, _encode("rate", x, 30, 30, seed=2))
    chunks = list(ENCODERS.get("rate")(x, 30, 7, 1.0, torch.Generator().manual_seed(1)))
    assert [c.shape[0] for c in chunks] == [7, 7, 7, 7, 2]
    assert torch.equal(torch.cat(chunks), a)
    odd = torch.rand(3, 3)  # an odd number of inputs per step and odd chunks
    assert torch.equal(_encode("rate", odd, 9, 9), _encode("rate", odd, 9, 5))


def test_compiled_compare_and_the_path_without_numba_equal_numpy(monkeypatch):
    import spikelocal.kernels as kernels

    rng = np.random.default_rng(0)
    draws = rng.integers(0, 65536, size=(5, 1001), dtype=np.uint16)[:, :1000]  # a strided view
    thresholds = rng.integers(0, 65537, size=1000).astype(np.int32)
    thresholds[:3] = [0, 65536, 1]
    expected = (draws.astype(np.int64) < thresholds).astype(np.float32)
    assert np.array_equal(bernoulli_u16(draws, thresholds).numpy(), expected)
    monkeypatch.setattr(kernels, "compiled_loops", lambda: None)
    assert np.array_equal(bernoulli_u16(draws, thresholds).numpy(), expected)


def test_latency_fires_once_bright_pixels_first_and_dim_ones_never():
    x = torch.tensor([[1.0, 0.5, 0.05]])
    spikes = _encode("latency", x, 11, 4)
    assert spikes.sum(0).tolist() == [[1.0, 1.0, 0.0]]
    assert spikes[0, 0, 0] == 1.0 and spikes[5, 0, 1] == 1.0


def test_direct_repeats_the_value_every_step():
    x = torch.rand(3, 4)
    out = _encode("direct", x, 6, 4)
    assert out.shape == (6, 3, 4) and torch.equal(out[5], x)


def test_rate_on_device_path_draws_bernoulli_with_the_same_seed_same_spikes() -> None:
    """The device encoder (run here on CPU tensors): rates match p, p = 0 and 1 are exact,
    the same seed gives the same spikes and the chunking gives the shape asked for."""
    x = torch.tensor([0.0, 0.25, 0.5, 1.0]).repeat(500, 1)
    a = torch.cat(list(rate_on_device(x, 40, 16, 1.0, seed=7)))
    b = torch.cat(list(rate_on_device(x, 40, 16, 1.0, seed=7)))
    c = torch.cat(list(rate_on_device(x, 40, 16, 1.0, seed=8)))
    assert a.shape == (40, 500, 4) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    rates = a.mean(dim=(0, 1))
    assert rates[0] == 0 and rates[3] == 1
    assert abs(rates[1] - 0.25) < 0.01 and abs(rates[2] - 0.5) < 0.01
    # the chunk length is a memory setting: other chunkings give the same spikes
    for chunk in (1, 7, 40):
        assert torch.equal(torch.cat(list(rate_on_device(x, 40, chunk, 1.0, seed=7))), a)
