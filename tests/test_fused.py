"""The torch.compile fused LIF and trace loops against the tensor-operation reference loop."""
from __future__ import annotations

import pytest
import torch

from spikelocal.config import NeuronConfig
from spikelocal.core import fused
from spikelocal.core.neurons import CubaLIF

# compiling takes some seconds per block on the CPU
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not fused.available("cpu"), reason="torch.compile does not run here")]


@pytest.mark.parametrize("reset,bias", [("hard", False), ("subtract", True)])
def test_fused_lif_matches_reference(reset: str, bias: bool) -> None:
    torch.manual_seed(0)
    neuron = CubaLIF(NeuronConfig(reset=reset))
    steps, batch, n = 40, 3, 64   # 40 > BLOCK: two compiled blocks, state carried between them
    current = torch.rand(steps, batch, n) * 0.04
    b = torch.rand(n) * 0.05 if bias else None
    state = neuron.init_state((batch, n), torch.device("cpu"))
    ref_s, ref_v, (ref_syn, ref_mem) = neuron._run_steps(current, state[0].clone(), state[1].clone(), b)
    neuron.backend = "compiled"
    s, v, (syn, mem) = neuron.run(current, state, b)
    assert ref_s.sum() > 0 and ref_s.mean() < 0.9          # the test exercises spikes and resets
    assert torch.equal(s, ref_s)
    torch.testing.assert_close(v, ref_v, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(syn, ref_syn, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(mem, ref_mem, rtol=1e-5, atol=1e-6)
    assert torch.count_nonzero(state[1]) == 0              # the given state is not written


def test_fused_trace_matches_reference() -> None:
    torch.manual_seed(1)
    neuron = CubaLIF(NeuronConfig())
    pre = (torch.rand(35, 2, 50) < 0.2).float()
    trace = neuron.init_trace((2, 50), torch.device("cpu"))
    neuron.backend = "reference"
    ref, (rq, rp) = neuron.eligibility(pre, trace)
    neuron.backend = "compiled"
    out, (q, p) = neuron.eligibility(pre, trace)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(p, rp, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(q, rq, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fused_lif_on_cuda_matches_reference() -> None:
    neuron = CubaLIF(NeuronConfig())
    current = torch.rand(50, 8, 1000, device="cuda") * 0.6
    state = neuron.init_state((8, 1000), torch.device("cuda"))
    ref_s, ref_v, _ = neuron._run_steps(current, state[0].clone(), state[1].clone(), None)
    s, v, _ = neuron.run(current, state, None)      # auto on CUDA: the fused loop
    assert (s != ref_s).float().mean() < 1e-4
    torch.testing.assert_close(v, ref_v, rtol=1e-4, atol=1e-4)
