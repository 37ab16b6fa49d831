"""softhebb, gait_prop, predictive_coding and fw_dtp against hand computations on a tiny
network (one hidden ReLU layer, linear output), the limits in which their papers show
them equal to backprop, and their one-line errors for bad options and layer types."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from spikelocal.config import LayerConfig, NetworkConfig, NeuronConfig
from spikelocal.errors import ConfigError
from spikelocal.core.network import Network
from spikelocal.rules.bp import BPOptions, BPRule
from spikelocal.rules.fw_dtp import FWDTPOptions, FWDTPRule
from spikelocal.rules.gait_prop import GaitPropOptions, GaitPropRule
from spikelocal.rules.predictive_coding import PredictiveCodingOptions, PredictiveCodingRule
from spikelocal.rules.softhebb import SoftHebbOptions, SoftHebbRule
from tests.conftest import REPO, tiny_config, tiny_config_dict

Y = torch.tensor([0, 1, 2, 1, 0])


def _net(hidden: int = 6, neuron: str = "relu", conv: bool = False, seed: int = 1) -> Network:
    first = (LayerConfig(kind="conv", channels=3, kernel=3, padding=1, pool=2) if conv
             else LayerConfig(kind="dense", units=hidden))
    cfg = NetworkConfig(neuron=NeuronConfig(kind=neuron), weight_scale=2.0,
                        layers=[first, LayerConfig(kind="dense", units=3)])
    return Network.from_config(cfg, (1, 4, 4) if conv else (4,), 3, seed=seed)


def _x(batch: int = 5, shape=(4,)) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(1, batch, *shape)


def _grads(rule, x: torch.Tensor, y: torch.Tensor = Y) -> list[torch.Tensor]:
    rule.compute_updates(iter([x]), y, [True] * len(rule.net.layers))
    return [p.grad.clone() for p in rule.net.parameters()]


def _forward(net: Network, x: torch.Tensor):
    l1, l2 = net.layers
    a1 = x[0] @ l1.weight.t() + l1.bias
    h1 = torch.relu(a1)
    z = h1 @ l2.weight.t() + l2.bias
    e = torch.softmax(z, 1) - F.one_hot(Y, 3).float()
    return a1, h1, z, e


def _expected(net, x, delta1, delta2, pre2):
    """[dW1, db1, dW2, db2] from the two layers' deltas, averaged over the batch."""
    b = x.shape[1]
    return [delta1.t() @ x[0] / b, delta1.sum(0) / b, delta2.t() @ pre2 / b, delta2.sum(0) / b]


def _close(got, want, **tol):
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, **tol)


# ------------------------------------------------------------------ gait_prop --------
@pytest.mark.parametrize("rescale", [False, True])
def test_gait_prop_pinv_matches_hand_computation(rescale):
    net, x = _net(), _x()
    a1, h1, _, e = _forward(net, x)
    w2 = net.layers[1].weight.detach()
    down = e @ torch.linalg.pinv(w2).t()                  # W2^{-1} (t2 - h2) / -gamma
    if rescale:
        down = down * (e.norm() / down.norm())
    want = _expected(net, x, down * (a1 > 0), e, h1)
    got = _grads(GaitPropRule(net, GaitPropOptions(rescale=rescale, orthogonal=0.0), seed=0), x)
    _close(got, want, rtol=1e-4, atol=1e-6)
    assert got[0].abs().sum() > 0


def test_gait_prop_with_transpose_inverse_is_bp_and_orthogonality_term_adds():
    net, x = _net(), _x()
    ref = _grads(BPRule(net, BPOptions(), seed=0), x)
    plain = GaitPropOptions(inverse="transpose", orthogonal=0.0, rescale=False)
    _close(_grads(GaitPropRule(net, plain, seed=0), x), ref, rtol=1e-4, atol=1e-6)
    w2 = net.layers[1].weight.detach()                    # 3 x 6: rows are the smaller side
    got = _grads(GaitPropRule(net, GaitPropOptions(inverse="transpose", orthogonal=0.5, rescale=False), seed=0), x)
    torch.testing.assert_close(got[2], ref[2] + 0.5 * (w2 @ w2.t() - torch.eye(3)) @ w2, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(got[0], ref[0])            # the first layer carries no target down


def test_gait_prop_defaults_are_the_papers_method():
    """Rescaled targets (Dalm et al. 2021) and the orthogonality regulariser (Ahmad et al.
    2020) are on by default: without them the spiking holistic net stopped at 82 %."""
    opts = GaitPropOptions()
    assert opts.rescale and opts.orthogonal > 0 and opts.inverse == "pinv"


# ------------------------------------------------------------------ fw_dtp -----------
def test_fw_dtp_matches_hand_computation():
    net, x = _net(), _x()
    rule = FWDTPRule(net, FWDTPOptions(beta=0.3), seed=0)
    a1, h1, z, e = _forward(net, x)
    bmat = rule.feedback[1]                               # [6, 3], fixed
    t2 = z - 0.3 * e
    signal = (torch.tanh(z @ bmat.t()) - torch.tanh(t2 @ bmat.t())) / 0.3
    want = _expected(net, x, signal * (a1 > 0), e, h1)
    _close(_grads(rule, x), want, rtol=1e-4, atol=1e-6)


def test_fw_dtp_with_linear_transposed_feedback_is_bp():
    net, x = _net(), _x()
    rule = FWDTPRule(net, FWDTPOptions(beta=0.5, feedback_activation="linear"), seed=0)
    rule.feedback[1].copy_(net.layers[1].weight.detach().t())
    _close(_grads(rule, x), _grads(BPRule(net, BPOptions(), seed=0), x), rtol=1e-4, atol=1e-6)


def test_fw_dtp_feedback_is_seeded():
    a = FWDTPRule(_net(), FWDTPOptions(), seed=4).state_tensors()
    b = FWDTPRule(_net(), FWDTPOptions(), seed=4).state_tensors()
    c = FWDTPRule(_net(), FWDTPOptions(), seed=5).state_tensors()
    assert set(a) == {"feedback.1"} and torch.equal(a["feedback.1"], b["feedback.1"])
    assert not torch.equal(a["feedback.1"], c["feedback.1"])


# ------------------------------------------------------------------ predictive coding
def test_predictive_coding_one_iteration_matches_hand_computation():
    net, x = _net(), _x()
    gamma, step = 0.5, 0.3
    a1, _, _, e = _forward(net, x)
    w2, b2 = net.layers[1].weight.detach(), net.layers[1].bias.detach()
    eps2 = -gamma * e
    x1 = a1 - step * (0 - (a1 > 0).float() * (eps2 @ w2))
    eps1 = x1 - a1
    mu2 = torch.relu(x1) @ w2.t() + b2
    eps2 = -gamma * (torch.softmax(mu2, 1) - F.one_hot(Y, 3).float())
    want = _expected(net, x, eps1 / -gamma, eps2 / -gamma, torch.relu(x1))
    rule = PredictiveCodingRule(net, PredictiveCodingOptions(iterations=1, step=step, gamma=gamma,
                                                             tolerance=0.0), seed=0)
    _close(_grads(rule, x), want, rtol=1e-4, atol=1e-6)
    assert rule.pop_iterations() == [1] and rule.iterations_used == []


def test_predictive_coding_equilibrium_approaches_bp_and_stops_at_tolerance():
    net, x = _net(), _x()
    ref = _grads(BPRule(net, BPOptions(), seed=0), x)
    rule = PredictiveCodingRule(net, PredictiveCodingOptions(iterations=400, step=0.2, gamma=1e-3,
                                                             tolerance=1e-3), seed=0)
    got = _grads(rule, x)
    used = rule.pop_iterations()[0]
    assert 1 < used < 400                                  # converged before the cap
    _close(got, ref, rtol=2e-2, atol=1e-4)


def test_predictive_coding_spiking_net_infers_before_stopping():
    """A silent LIF net sends dF/dx ~ 1e-3 rms(eps_L) down (the init factor of its weights);
    the stopping rule is relative to the first step's dF/dx, so inference still runs and the
    hidden layer gets an error (with a criterion relative to rms(eps_L) it stopped at step 0,
    the hidden error was 0 and spiking nets stayed silent at chance)."""
    net = _net(hidden=6, neuron="lif")
    rule = PredictiveCodingRule(net, PredictiveCodingOptions(iterations=5), seed=0)
    x = (torch.rand(6, 5, 4, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    grads = _grads(rule, x)
    assert rule.pop_iterations() == [5]
    assert grads[0].abs().sum() > 0                       # layer 1's weights get an error


# ------------------------------------------------------------------ softhebb ---------
def _hebb_reference(w, x, tau, lr):
    """Per-neuron loop of dw_k = eta_k yhat_k (x - u_k w_k), averaged over rows of x [M, D]."""
    u = x @ w.t()
    y = torch.softmax(u / tau, 1)
    new = w.clone()
    for k in range(w.shape[0]):
        sign = torch.where(u.argmax(1) == k, 1.0, -1.0)
        dw = ((sign * y[:, k])[:, None] * (x - u[:, k:k + 1] * w[k])).mean(0)
        new[k] += lr * (w[k].norm() - 1).abs().sqrt() * dw
    return new, u


def test_softhebb_dense_update_matches_hand_computation():
    net, x = _net(), _x()
    w0, b0 = net.layers[0].weight.detach().clone(), net.layers[0].bias.detach().clone()
    rule = SoftHebbRule(net, SoftHebbOptions(temperature=0.7, lr=0.2, threshold_rate=0.25), seed=0)
    ref_classifier = _grads(BPRule(net, BPOptions(), seed=0), x)[2:]
    result = rule.compute_updates(iter([x]), Y, rule.active_layers(0, 3))
    want_w, u = _hebb_reference(w0, x[0], 0.7, 0.2)
    torch.testing.assert_close(net.layers[0].weight.detach(), want_w, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(net.layers[0].bias.detach(), 0.75 * b0 - 0.25 * u.mean(0))
    assert net.layers[0].weight.grad.abs().sum() == 0     # never through the optimiser
    _close([p.grad for p in net.layers[1].parameters()], ref_classifier, rtol=1e-4, atol=1e-6)
    assert len(result.logits) == 2


def test_softhebb_conv_update_matches_patch_computation():
    net, x = _net(conv=True), _x(shape=(1, 4, 4))
    layer = net.layers[0]
    w0 = layer.weight.detach().clone()
    rule = SoftHebbRule(net, SoftHebbOptions(temperature=0.5, lr=0.3), seed=0)
    rule.compute_updates(iter([x]), Y, rule.active_layers(0, 1))
    patches = F.unfold(x[0], 3, padding=1).transpose(1, 2).reshape(-1, 9)   # [B*16, 9]
    want, _ = _hebb_reference(w0.reshape(3, 9), patches, 0.5, 0.3)
    torch.testing.assert_close(layer.weight.detach().reshape(3, 9), want, rtol=1e-5, atol=1e-6)


def test_softhebb_freezes_hebbian_layers_after_the_unsupervised_epochs():
    rule = SoftHebbRule(_net(), SoftHebbOptions(unsupervised_epochs=2), seed=0)
    assert rule.active_layers(1, 5) == [True, True] and rule.active_layers(2, 5) == [False, True]
    net, x = rule.net, _x()
    w0 = net.layers[0].weight.detach().clone()
    rule.compute_updates(iter([x]), Y, rule.active_layers(3, 5))
    assert torch.equal(net.layers[0].weight.detach(), w0)


def test_softhebb_dense_layer_finds_the_prototypes_of_clustered_input():
    """The rule learns, not just moves: inputs are 4 unit prototypes plus noise, and after 300
    batches every prototype has a hidden neuron pointing at it (cosine > 0.98), where the
    random init had at best 0.3-0.55. Soft-WTA clustering is what SoftHebb's theory says the
    layer does (Moraitis et al. 2022: the weights become the mixture's component means)."""
    torch.manual_seed(0)
    dim, groups = 16, 4
    protos = F.normalize(torch.randn(groups, dim), dim=1)
    cfg = NetworkConfig(neuron=NeuronConfig(kind="relu"),
                        layers=[LayerConfig(kind="dense", units=8), LayerConfig(kind="dense", units=groups)])
    net = Network.from_config(cfg, (dim,), groups, seed=3)
    rule = SoftHebbRule(net, SoftHebbOptions(temperature=0.1, lr=0.5), seed=0)

    def best_cosine() -> torch.Tensor:
        return (F.normalize(net.layers[0].weight.detach(), dim=1) @ protos.t()).max(0).values

    assert best_cosine().max() < 0.7
    gen = torch.Generator().manual_seed(1)
    for _ in range(300):
        labels = torch.randint(0, groups, (20,), generator=gen)
        x = protos[labels] + 0.1 * torch.randn(20, dim, generator=gen)
        rule.compute_updates(iter([x[None]]), labels, rule.active_layers(0, 1))
    assert best_cosine().min() > 0.98


def test_softhebb_spiking_layers_keep_firing_and_the_classifier_learns(tmp_path):
    """Two Hebbian LIF layers (conv, dense) on sparse input: the rate-holding bias keeps both
    firing near target_rate and the classifier learns. Three seeds, every one must learn (before
    the rate-holding threshold, seeds 1 and 2 ended at chance with the second layer silent)."""
    from spikelocal.trainer import run

    torch.set_num_threads(1)
    layers = [{"kind": "conv", "channels": 4, "kernel": 3, "padding": 1, "pool": 2, "bias": True},
              {"kind": "dense", "units": 16, "bias": True}, {"kind": "dense", "units": 4}]
    for seed in range(3):
        cfg = tiny_config(spiking=True, conv=True, training__epochs=3, seed=seed,
                          network__layers=layers,
                          rule={"name": "softhebb", "classifier": "sgd", "lr": 0.5,
                                "threshold_rate": 0.5, "target_rate": 0.1})
        summary = run(cfg, tmp_path / f"r{seed}", progress=False)
        hidden = summary["layer_rate"][:2]
        assert all(0.05 < r < 0.2 for r in hidden), f"seed {seed}: hidden rates {hidden}"
        assert summary["test_accuracy"] > 0.5, f"seed {seed}"   # 4 classes: chance is 0.25


def test_softhebb_spiking_threshold_step_by_hand():
    """b_k += rho (r* - r_k) / r* theta (1 - beta) with r_k counted by hand."""
    from spikelocal.rules.softhebb import SoftHebbOptions, spiking_threshold_step

    cfg = tiny_config(spiking=True, network__layers=[{"kind": "dense", "units": 3, "bias": True},
                                                     {"kind": "dense", "units": 4}],
                      rule={"name": "softhebb"})
    layer = Network.from_config(cfg.network, (1, 8, 8), 4, seed=0).layers[0]
    out_sum = torch.tensor([[2.0, 0.0, 5.0], [0.0, 0.0, 3.0]])   # 2 samples, 5 steps
    opts = SoftHebbOptions(threshold_rate=0.2, target_rate=0.1)
    rates = torch.tensor([0.2, 0.0, 0.8])                        # spikes / (2 samples x 5 steps)
    nrn = layer.neuron
    expected = 0.2 * (0.1 - rates) / 0.1 * nrn.threshold * (1 - nrn.beta)
    assert torch.allclose(spiking_threshold_step(layer, out_sum, 5, opts), expected)


def test_softhebb_turns_spiking_biases_on_and_rejects_bias_false():
    cfg = tiny_config(spiking=True, rule={"name": "softhebb"})
    assert [layer.bias for layer in cfg.network.layers] == [True, True, None]
    layers = [{"kind": "dense", "units": 8, "bias": False}, {"kind": "dense", "units": 4}]
    with pytest.raises(ConfigError) as info:
        tiny_config(spiking=True, network__layers=layers, rule={"name": "softhebb"})
    msg = str(info.value)
    assert "network.layers.0.bias" in msg and "\n" not in msg
    assert tiny_config(spiking=True, rule={"name": "local"}).network.layers[0].bias is None


# ------------------------------------------------------------------ training + errors -
@pytest.mark.parametrize("rule", [
    {"name": "gait_prop", "rescale": True}, {"name": "fw_dtp"},
    {"name": "predictive_coding", "iterations": 10}])
def test_rules_learn_the_tiny_task_and_pc_logs_iterations(tmp_path, rule):
    from spikelocal.trainer import run

    torch.set_num_threads(1)
    summary = run(tiny_config(spiking=False, rule=rule), tmp_path / "r", progress=False)
    assert summary["test_accuracy"] > 0.6
    if rule["name"] == "predictive_coding":
        assert 1 <= summary["pc_iterations_mean"] <= 10 and summary["pc_iterations_max"] <= 10


@pytest.mark.parametrize("rule,fragment", [
    ({"name": "softhebb", "temperature": 0}, "rule.temperature: Input should be greater than 0"),
    ({"name": "softhebb", "unsupervised_epochs": 0}, "rule.unsupervised_epochs"),
    ({"name": "predictive_coding", "iterations": 0}, "rule.iterations: Input should be greater than or equal to 1"),
    ({"name": "predictive_coding", "step": 1.5}, "rule.step"),
    ({"name": "predictive_coding", "tolerance": -1}, "rule.tolerance"),
    ({"name": "fw_dtp", "beta": -0.1}, "rule.beta"),
    ({"name": "gait_prop", "inverse": "learned"}, "rule.inverse"),
    ({"name": "gait_prop", "orthogonal": -1}, "rule.orthogonal"),
])
def test_bad_options_are_one_line_errors(rule, fragment):
    with pytest.raises(ConfigError) as info:
        tiny_config(rule=rule)
    assert fragment in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["gait_prop", "fw_dtp"])
def test_conv_layers_are_refused_by_dense_only_rules(name):
    with pytest.raises(ConfigError) as info:
        tiny_config(conv=True, rule={"name": name})
    assert f"rule '{name}' cannot train network.layers.0 (conv)" in str(info.value)


def test_cli_bad_temperature_exits_2(tmp_path):
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tiny_config_dict(rule={"name": "softhebb", "temperature": -1.0})))
    proc = subprocess.run([sys.executable, "-m", "spikelocal", "run", str(path), "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "rule.temperature" in proc.stderr
    assert not (tmp_path / "r").exists()


def test_predictive_coding_inference_backs_off_when_a_step_overshoots():
    """With large weights a fixed step of 1 makes the relaxation diverge (the curvature of F
    grows with ||W||^2); an overshooting step is undone and halved, so the deltas stay finite."""
    net, x = _net(), _x()
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.mul_(30.0)
    rule = PredictiveCodingRule(net, PredictiveCodingOptions(iterations=40, step=1.0, tolerance=0.0), seed=0)
    grads = _grads(rule, x)
    assert all(torch.isfinite(g).all() for g in grads)
    assert rule.pop_iterations() == [40]
