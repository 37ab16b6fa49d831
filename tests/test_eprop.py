"""e-prop against BPTT, recurrent layers in the one core, and rules that refuse recurrence."""
from __future__ import annotations

import hashlib
from typing import Optional

import pytest
import torch

from spikelocal import rules
from spikelocal.config import NetworkConfig
from spikelocal.core import Network, Simulator, Want
from spikelocal.core.windows import run_windows
from spikelocal.errors import ConfigError
from spikelocal.rules.window_loss import BatchMetrics, per_step
from spikelocal.losses import LOSSES


def tiny_net(hidden: str, output: str, self_connections: bool = True, seed: int = 0) -> Network:
    neuron = {"kind": hidden, "tau_adapt": 0.02, "adaptation": 0.5, "reset": "subtract",
              "surrogate": {"kind": "fast_sigmoid", "slope": 2.0}}
    cfg = NetworkConfig.model_validate({
        "neuron": neuron, "weight_scale": 6.0,
        "output_neuron": {"kind": output, "surrogate": {"slope": 2.0}},
        "layers": [{"kind": "recurrent", "units": 6, "self_connections": self_connections, "bias": True},
                   {"kind": "dense", "units": 3}]})
    net = Network.from_config(cfg, (4,), 3, seed).double()
    with torch.no_grad():
        net.layers[0].recurrent.mul_(3.0)
    return net


def cut_bptt_grads(net: Network, x: torch.Tensor, y: torch.Tensor, window) -> dict[str, torch.Tensor]:
    """Autograd gradient of the output loss with the recurrent dependence cut."""
    sim = Simulator(net.layers, Want(differentiable=True, cut_recurrent=True))
    metrics = BatchMetrics(net, y, LOSSES.get("ce"))
    terms = []

    def forward(records, windows, state):
        err = None
        for i, rec in enumerate(records):
            err = metrics.record(i, rec.layer, windows)
        out = records[-1]
        k, b = out.pooled.shape[:2]
        logits = out.layer.readout_logits(out.pooled.reshape(k * b, -1))
        terms.append((logits * per_step(err, k, windows.group_len)).sum())

    state = run_windows(sim, [x[:7], x[7:]], window, forward)
    params = dict(net.named_parameters())
    grads = torch.autograd.grad(torch.stack(terms).sum(), list(params.values()), allow_unused=True)
    scale = 1.0 / (y.shape[0] * state.steps)
    return {name: (g * scale if g is not None else torch.zeros_like(p))
            for (name, p), g in zip(params.items(), grads)}


@pytest.mark.parametrize("hidden", ["lif", "alif"])
@pytest.mark.parametrize("output", ["linear", "lif"])
@pytest.mark.parametrize("window", ["sample", 4])
def test_symmetric_eprop_equals_bptt_with_recurrence_cut(hidden, output, window):
    torch.manual_seed(1)
    net = tiny_net(hidden, output, self_connections=(hidden == "lif"))
    x = (torch.rand(16, 5, 4, dtype=torch.float64) < 0.5).double()
    y = torch.tensor([0, 1, 2, 1, 0])
    expected = cut_bptt_grads(net, x, y, window)
    rule = rules.build({"name": "eprop", "feedback": "symmetric", "window": window}, net)
    rule.step([x[:7], x[7:]], y)
    for name, p in net.named_parameters():
        assert expected[name].abs().sum() > 0, name   # the test can fail: every gradient is live
        # float32 tolerance: the neuron model keeps the bias's dV/db trace in float32
        # (bias_eligibility); everything else agrees to about 1e-9 in float64
        torch.testing.assert_close(p.grad, expected[name], rtol=1e-6, atol=1e-10, msg=name)


def test_full_bptt_differs_from_the_cut_gradient():
    """The cut matters: e-prop is not BPTT on a recurrent net (else the test above is empty)."""
    torch.manual_seed(1)
    net = tiny_net("alif", "linear")
    x = (torch.rand(16, 5, 4, dtype=torch.float64) < 0.5).double()
    y = torch.tensor([0, 1, 2, 1, 0])
    cut = cut_bptt_grads(net, x, y, "sample")
    rules.build("bp", net).step(x, y)
    assert not torch.allclose(net.layers[0].recurrent.grad, cut["layers.0.recurrent"])


def test_recurrent_chunks_join_seamlessly():
    """One chunk of T steps and chunks of 3 give the same spikes (the last spikes carry over)."""
    net = tiny_net("alif", "lif")
    x = (torch.rand(12, 2, 4, dtype=torch.float64) < 0.5).double()
    sim = Simulator(net.layers, Want())
    whole = sim.run(x, sim.start(2))[0].output
    state = sim.start(2)
    parts = torch.cat([sim.run(c, state)[0].output for c in torch.split(x, 3)])
    assert whole.sum() > 0
    torch.testing.assert_close(whole, parts)


def test_no_self_connections_stay_zero():
    net = tiny_net("lif", "linear", self_connections=False)
    x = (torch.rand(10, 3, 4, dtype=torch.float64) < 0.5).double()
    rule = rules.build({"name": "eprop", "feedback": "random"}, net)
    rule.step(x, torch.tensor([0, 1, 2]))
    assert net.layers[0].recurrent.diagonal().abs().sum() == 0
    assert net.layers[0].recurrent.grad.diagonal().abs().sum() == 0


@pytest.mark.parametrize("name", ["local", "fa", "dfa", "sign_symmetry", "softhebb", "gait_prop",
                                  "fw_dtp", "predictive_coding"])
def test_feed_forward_rules_refuse_a_recurrent_net(name):
    with pytest.raises(ConfigError, match="cannot train layer 0 \\(recurrent\\)"):
        rules.build(name, tiny_net("lif", "lif"))


@pytest.mark.parametrize("hidden", ["lif", "alif"])
@pytest.mark.parametrize("output", ["linear", "lif"])
def test_compiled_traces_match_the_tensor_loop(hidden, output):
    """The numba passes of the eligibility give the tensor loop's update (float32)."""
    from spikelocal.rules import eprop_traces

    if eprop_traces._adaptive_kernel() is None:
        pytest.skip("numba is not installed")
    grads = []
    for kernel in (True, False):
        torch.manual_seed(2)
        net = tiny_net(hidden, output).float()
        x = (torch.rand(16, 5, 4) < 0.5).float()
        saved = eprop_traces._adaptive_kernel, eprop_traces._filtered_kernel
        if not kernel:
            eprop_traces._adaptive_kernel = eprop_traces._filtered_kernel = lambda: None
        try:
            rules.build({"name": "eprop", "feedback": "symmetric", "window": 4}, net).step(x, torch.tensor([0, 1, 2, 1, 0]))
        finally:
            eprop_traces._adaptive_kernel, eprop_traces._filtered_kernel = saved
        grads.append(net.layers[0].recurrent.grad.clone())
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def test_truncated_bptt_cuts_the_graph_at_chunks():
    torch.manual_seed(1)
    x = (torch.rand(16, 5, 4, dtype=torch.float64) < 0.5).double()
    y = torch.tensor([0, 1, 2, 1, 0])
    grads = {}
    for name, chunks, truncate in (("full", [x], False), ("one chunk", [x], True),
                                   ("two chunks", [x[:8], x[8:]], True)):
        net = tiny_net("alif", "lif")
        rules.build({"name": "bp", "window": 8, "truncate": truncate}, net).step(chunks, y)
        grads[name] = torch.cat([p.grad.flatten() for p in net.parameters()])
    assert grads["full"].abs().sum() > 0
    torch.testing.assert_close(grads["one chunk"], grads["full"])
    assert not torch.allclose(grads["two chunks"], grads["full"])


def _grad_digest(update: Optional[str]) -> str:
    """sha256 of every gradient over the tiny nets, outputs, windows and learning signals."""
    h = hashlib.sha256()
    for hidden in ("lif", "alif"):
        for output in ("linear", "lif"):
            for window in ("sample", 4):
                for feedback in ("random", "symmetric", "readout"):
                    torch.manual_seed(1)
                    net = tiny_net(hidden, output, self_connections=(hidden == "lif"))
                    x = (torch.rand(16, 5, 4, dtype=torch.float64) < 0.5).double()
                    options = {"name": "eprop", "window": window, "feedback": feedback}
                    rule = rules.build(options if update is None else {**options, "update": update}, net)
                    rule.step([x[:7], x[7:]], torch.tensor([0, 1, 2, 1, 0]))
                    for p in net.parameters():
                        h.update(p.grad.double().numpy().tobytes())
    return h.hexdigest()


#: the digest the rule gave before it had an ``update`` option (same seeds, same machine type)
UPDATE_PER_SEQUENCE_DIGEST = "2dfcb47fc884b8c3a7da7323a867d1351cd643de165cce0e8180eb5c03bcf038"


def test_per_sequence_update_is_the_old_update_bit_for_bit():
    assert _grad_digest(None) == _grad_digest("sequence") == UPDATE_PER_SEQUENCE_DIGEST


def test_per_chunk_update_steps_between_chunks_with_the_new_weights():
    torch.manual_seed(1)
    x = (torch.rand(16, 5, 4, dtype=torch.float64) < 0.5).double()
    y = torch.tensor([0, 1, 2, 1, 0])
    seen: list[torch.Tensor] = []

    def run(update: str, chunks: list[torch.Tensor]) -> Network:
        net = tiny_net("alif", "linear")
        rule = rules.build({"name": "eprop", "feedback": "random", "update": update}, net)
        opt = torch.optim.SGD(net.parameters(), lr=0.5)
        rule.apply_update = lambda: (seen.append(net.layers[0].weight.detach().clone()), opt.step())
        rule.step(chunks, y)
        return net

    one = run("chunk", [x])                       # one chunk: nothing applied mid-sequence
    assert not seen
    ref = run("sequence", [x])
    for p, q in zip(one.parameters(), ref.parameters()):
        assert torch.equal(p.grad, q.grad)
    net = run("chunk", list(torch.split(x, 4)))   # four chunks: three steps inside the sequence
    assert len(seen) == 3 and not torch.equal(seen[0], net.layers[0].weight.detach())
    assert all(p.grad.abs().sum() > 0 for p in net.parameters())  # the last chunk's update, for the trainer


def test_per_chunk_update_needs_the_optimiser():
    rule = rules.build({"name": "eprop", "update": "chunk"}, tiny_net("lif", "linear"))
    with pytest.raises(ConfigError, match="rule.update: 'chunk'.*optimizer.step"):
        rule.step(torch.zeros(4, 2, 4, dtype=torch.float64), torch.tensor([0, 1]))


def test_per_chunk_update_learns_delayed_recall(tmp_path):
    from spikelocal import train

    run = train("experiments/delayed_recall_eprop.yaml", tmp_path / "run", overrides=[
        "rule.update=chunk", "training.time_chunk=20", "training.epochs=2", "data.delayed_recall.n_test=200"])
    assert run.summary["test_accuracy"] > 0.6  # chance 0.25
