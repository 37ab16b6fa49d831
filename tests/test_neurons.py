"""Pinned LIF traces, and the chunked simulation equal to the step-by-step one."""
from __future__ import annotations

import math

import pytest
import torch

from spikelocal.config import NeuronConfig
from spikelocal.core.neurons import CubaLIF, RateNeuron

from conftest import tiny_config


def test_lif_trace_matches_hand_computation():
    lif = CubaLIF(NeuronConfig(tau_syn=5e-3, tau_mem=10e-3, dt=1e-3, threshold=1.0))
    a, b = math.exp(-0.2), math.exp(-0.1)
    current = torch.tensor([0.5, 0.5, 0.0, 0.0]).view(4, 1, 1)
    spikes, membrane, _ = lif.run(current, lif.init_state((1, 1), torch.device("cpu")), None)
    i1 = 0.5; v1 = i1                       # 0.5: no spike
    i2 = a * i1 + 0.5; v2 = b * v1 + i2     # 1.3597: spike, hard reset
    i3 = a * i2; v3 = 0.0 + i3              # 0.7371
    i4 = a * i3; v4 = b * v3 + i4           # 1.2705: spike
    expected = torch.tensor([v1, v2, v3, v4])
    torch.testing.assert_close(membrane.flatten(), expected, rtol=1e-6, atol=1e-6)
    assert spikes.flatten().tolist() == [0.0, 1.0, 0.0, 1.0]


def test_subtract_reset_keeps_the_excess():
    lif = CubaLIF(NeuronConfig(tau_syn=1e-3, tau_mem=1e9, dt=1e-3, threshold=1.0, reset="subtract"))
    current = torch.tensor([1.5, 0.0]).view(2, 1, 1)
    _, membrane, state = lif.run(current, lif.init_state((1, 1), torch.device("cpu")), None)
    # after the first step V = 1.5 - 1 = 0.5 (beta = 1); the second step adds I = alpha * 1.5
    assert float(membrane[1]) == pytest.approx(0.5 + 1.5 * math.exp(-1.0), rel=1e-5)


def test_chunked_run_equals_single_steps():
    lif = CubaLIF(NeuronConfig())
    current = torch.rand(12, 3, 5) * 0.6
    full, mem_full, _ = lif.run(current, lif.init_state((3, 5), torch.device("cpu")), None)
    state = lif.init_state((3, 5), torch.device("cpu"))
    pieces = []
    for k in range(12):
        s, _, state = lif.run(current[k:k + 1], state, None)
        pieces.append(s)
    assert torch.equal(torch.cat(pieces), full)


def test_autograd_path_has_the_same_forward():
    lif = CubaLIF(NeuronConfig())
    current = torch.rand(10, 2, 4) * 0.6
    s1, m1, _ = lif.run(current, lif.init_state((2, 4), torch.device("cpu")), None)
    s2, m2, _ = lif.run(current, lif.init_state((2, 4), torch.device("cpu")), None, differentiable=True)
    assert torch.equal(s1, s2.detach())
    torch.testing.assert_close(m1, m2.detach())


def test_rate_neurons():
    a = torch.tensor([[-1.0, 0.5]])
    assert RateNeuron("relu").run(a[None], (), None)[0].flatten().tolist() == [0.0, 0.5]
    assert RateNeuron("relu").derivative(a).flatten().tolist() == [0.0, 1.0]


def test_time_chunk_does_not_change_training(tmp_path):
    from spikelocal.trainer import run

    torch.set_num_threads(1)
    # window "step": the per-step loss does not depend on the chunking
    a = run(tiny_config(training__time_chunk=8, training__epochs=1, rule__window="step"), tmp_path / "a", progress=False)
    b = run(tiny_config(training__time_chunk=3, training__epochs=1, rule__window="step"), tmp_path / "b", progress=False)
    assert a["test_accuracy"] == b["test_accuracy"]
    assert a["layer_rate"] == pytest.approx(b["layer_rate"], rel=1e-5)
