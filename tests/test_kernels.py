"""The compiled LIF and trace loops give bit-identical results to the tensor-operation loops,
and the in-place surrogates equal their formulas."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from spikelocal import kernels
from spikelocal.config import NeuronConfig
from spikelocal.core.neurons import SURROGATES, CubaLIF

pytestmark = pytest.mark.skipif(kernels.compiled_loops() is None, reason="numba not installed")


@pytest.mark.parametrize("reset", ["hard", "subtract"])
@pytest.mark.parametrize("shape,bias_len", [((6, 7), None), ((6, 7), 7), ((3, 4, 5, 5), 4)])
def test_lif_kernel_is_bit_identical(reset, shape, bias_len):
    torch.manual_seed(0)
    lif = CubaLIF(NeuronConfig(reset=reset, tau_syn=3e-3, tau_mem=7e-3, threshold=0.8))
    current = torch.randn(9, *shape) * 0.7
    state = (torch.randn(shape) * 0.3, torch.randn(shape) * 0.5)
    bias = None if bias_len is None else torch.randn(bias_len) * 0.2
    spikes, membrane, (syn, mem) = lif.run(current, state, bias)
    ref_s, ref_m, (ref_syn, ref_mem) = lif._run_steps(current, state[0].clone(), state[1].clone(), bias)
    assert spikes.sum() > 0 and (spikes == 0).any()
    for got, want in [(spikes, ref_s), (membrane, ref_m), (syn, ref_syn), (mem, ref_mem)]:
        assert torch.equal(got, want)
    assert not torch.equal(state[0], syn)  # the caller's state is not overwritten


def test_trace_kernel_is_bit_identical():
    torch.manual_seed(1)
    lif = CubaLIF(NeuronConfig())
    pre = (torch.rand(11, 4, 13) < 0.3).float()
    trace = (torch.rand(4, 13), torch.rand(4, 13))
    out, (q, p) = lif.eligibility(pre, trace)
    assert kernels.usable(pre)
    q_ref, p_ref = trace[0].clone(), trace[1].clone()
    for k in range(pre.shape[0]):
        q_ref.mul_(lif.alpha).add_(pre[k])
        p_ref.mul_(lif.beta).add_(q_ref)
        assert torch.equal(out[k], p_ref)
    assert torch.equal(q, q_ref) and torch.equal(p, p_ref)


def test_tensor_path_still_used_for_autograd_and_float64():
    lif = CubaLIF(NeuronConfig())
    current = (torch.rand(5, 2, 3, dtype=torch.float64) * 0.9)
    assert not kernels.usable(current)
    spikes, _, _ = lif.run(current, lif.init_state((2, 3), torch.device("cpu")), None)
    ref, _, _ = lif.run(current.float(), lif.init_state((2, 3), torch.device("cpu")), None)
    assert spikes.dtype == torch.float64 and torch.equal(spikes.float(), ref)


@pytest.mark.parametrize("kind", ["fast_sigmoid", "sigmoid", "triangle"])
def test_inplace_surrogates_equal_their_formulas(kind):
    u = torch.randn(50) * 0.3
    slope = 7.0
    formula = {
        "fast_sigmoid": lambda v: (slope * v.abs() + 1.0) ** -2,
        "sigmoid": lambda v: 4.0 * torch.sigmoid(slope * v) * (1.0 - torch.sigmoid(slope * v)),
        "triangle": lambda v: (1.0 - slope * v.abs()).clamp(min=0.0),
    }[kind]
    expected = formula(u)
    got = SURROGATES.get(kind)(u.clone(), slope)
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-7)
    lif = CubaLIF(NeuronConfig(surrogate={"kind": kind, "slope": slope}))
    membrane = u + 1.0
    kept = membrane.clone()
    assert torch.equal(lif.derivative(membrane), lif.derivative(membrane.clone(), inplace=True))
    assert torch.equal(membrane, kept)  # the default leaves the membrane alone


def test_fused_fast_sigmoid_is_bit_identical():
    lif = CubaLIF(NeuronConfig(threshold=0.9, surrogate={"kind": "fast_sigmoid", "slope": 10.0}))
    membrane = torch.randn(4, 3, 20)
    expected = lif.surrogate(membrane - lif.threshold, lif.slope)
    got = lif.derivative(membrane.clone(), inplace=True)
    assert torch.equal(got, expected)


@pytest.fixture
def split_across_threads(monkeypatch):
    """Every pass split into column ranges on three threads, however small."""
    monkeypatch.setattr(kernels, "PARALLEL_MIN", 0)
    threads = torch.get_num_threads()
    torch.set_num_threads(3)
    yield
    torch.set_num_threads(threads)


def test_column_ranges_cover_once_aligned():
    for size in (1, 15, 16, 100, 1000, 50_177):
        ranges = kernels.column_ranges(size, 1 << 20)
        assert ranges[0][0] == 0 and ranges[-1][1] == size
        assert all(a < b for a, b in ranges)
        assert all(prev[1] == nxt[0] and nxt[0] % 16 == 0 for prev, nxt in zip(ranges, ranges[1:]))


@pytest.mark.parametrize("reset", ["hard", "subtract"])
def test_loops_split_across_threads_are_bit_identical(split_across_threads, reset):
    """The same numbers whichever thread computes a column (bias indexed by the global column)."""
    assert len(kernels.column_ranges(3 * 7 * 9 * 9)) == 3
    torch.manual_seed(2)
    lif = CubaLIF(NeuronConfig(reset=reset, tau_syn=3e-3, tau_mem=7e-3, threshold=0.8))
    shape = (3, 7, 9, 9)
    current = torch.randn(6, *shape) * 0.7
    state = (torch.randn(shape) * 0.3, torch.randn(shape) * 0.5)
    bias = torch.randn(7) * 0.2
    spikes, membrane, (syn, mem) = lif.run(current, state, bias)
    ref_s, ref_m, (ref_syn, ref_mem) = lif._run_steps(current, state[0].clone(), state[1].clone(), bias)
    assert spikes.sum() > 0
    for got, want in [(spikes, ref_s), (membrane, ref_m), (syn, ref_syn), (mem, ref_mem)]:
        assert torch.equal(got, want)
    pre = (torch.rand(6, *shape) < 0.3).float()
    out, (q, p) = lif.eligibility(pre, (torch.zeros(shape), torch.zeros(shape)))
    q_ref, p_ref = torch.zeros(shape), torch.zeros(shape)
    for k in range(pre.shape[0]):
        q_ref.mul_(lif.alpha).add_(pre[k])
        p_ref.mul_(lif.beta).add_(q_ref)
        assert torch.equal(out[k], p_ref)
    v = torch.randn(1000)
    whole = v.clone()
    kernels.compiled_loops()["fast_sigmoid_inplace"](whole.numpy(), np.float32(0.5), np.float32(3.0), 0, 1000)
    assert torch.equal(kernels.fast_sigmoid_(v.clone(), 0.5, 3.0), whole)


def test_split_encoder_equals_one_pass(split_across_threads):
    rng = np.random.default_rng(0)
    draws = rng.integers(0, 1 << 16, size=(5, 333), dtype=np.uint16)
    thresholds = rng.integers(0, 1 << 16, size=333).astype(np.int32)
    assert torch.equal(kernels.bernoulli_u16(draws, thresholds),
                       torch.from_numpy((draws.astype(np.int32) < thresholds).astype(np.float32)))
