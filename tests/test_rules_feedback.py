"""fa, dfa and sign_symmetry against references: with feedback equal to the forward weights
they reduce to bp (rate nets, and spiking nets with T = 1); for T > 1 the time-local spiking
update equals a step-by-step hand computation; feedback matrices are seeded and stored."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from spikelocal.config import LayerConfig, NetworkConfig, NeuronConfig, resolve_experiment
from spikelocal.errors import ConfigError
from spikelocal.core.network import Network
from spikelocal.rules.bp import BPOptions, BPRule
from spikelocal.rules.feedback import DFAOptions, DFARule, FAOptions, FARule, SignSymmetryOptions, SignSymmetryRule
from tests.conftest import REPO, tiny_config, tiny_config_dict


def _net(kind: str, neuron: str, depth: int = 3, seed: int = 1) -> Network:
    neuron_cfg = NeuronConfig(kind=neuron, tau_syn=3e-3, tau_mem=6e-3)
    if kind == "dense":
        layers = [LayerConfig(kind="dense", units=12), LayerConfig(kind="dense", units=9)][: depth - 1]
        shape = (1, 4, 4)
    else:
        layers = [LayerConfig(kind="conv", channels=4, kernel=3, padding=1, pool=2),
                  LayerConfig(kind="conv", channels=3, kernel=3, padding=1)][: depth - 1]
        shape = (2, 6, 6)
    layers.append(LayerConfig(kind="dense", units=3))
    cfg = NetworkConfig(neuron=neuron_cfg, layers=layers, weight_scale=3.0, readout={"output_scale": 2.0})
    net = Network.from_config(cfg, shape, 3, seed=seed)
    if neuron == "lif":  # a positive shift so that every layer spikes, none saturates
        with torch.no_grad():
            for layer in net.layers:
                layer.weight.add_(0.04 if kind == "dense" else 0.03)
    return net


def _input(net: Network, steps: int, batch: int = 5) -> torch.Tensor:
    torch.manual_seed(0)
    if net.spiking:
        return (torch.rand(steps, batch, *net.input_shape) < 0.5).float()
    return torch.rand(1, batch, *net.input_shape)


def _grads(rule, x, y, chunk: int = 3) -> list[torch.Tensor]:
    result = rule.compute_updates(iter(x.split(chunk)), y, [True] * len(rule.net.layers))
    assert all((c != 0).any() for c in result.spike_counts), "a silent layer would make the test vacuous"
    return [p.grad.clone() for p in rule.net.parameters()]


Y = torch.tensor([0, 1, 2, 1, 0])


@pytest.mark.parametrize("kind", ["dense", "conv"])
@pytest.mark.parametrize("neuron", ["relu", "lif"])
def test_fa_with_transposed_weights_is_bp(kind, neuron):
    net = _net(kind, neuron)
    if neuron == "lif":  # one step: enough drive that every layer spikes at once
        with torch.no_grad():
            for layer in net.layers:
                layer.weight.add_(0.08 if kind == "dense" else 0.07)
    x = _input(net, steps=1)
    rule = FARule(net, FAOptions(), seed=0)
    for i, b in rule.feedback.items():
        b.copy_(net.layers[i].weight.detach())
    ours = _grads(rule, x, Y)
    ref = _grads(BPRule(net, BPOptions(), seed=0), x, Y)
    for got, want in zip(ours, ref):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
    assert ours[0].abs().sum() > 0


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_sign_symmetry_is_bp_when_weights_have_equal_magnitudes(kind):
    net = _net(kind, "relu")
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.copy_(torch.sign(layer.weight) * 0.2)
    x = _input(net, steps=1)
    ours = _grads(SignSymmetryRule(net, SignSymmetryOptions(), seed=0), x, Y)
    ref = _grads(BPRule(net, BPOptions(), seed=0), x, Y)
    for got, want in zip(ours, ref):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_dfa_with_output_weights_is_bp_for_one_hidden_layer(kind):
    """Linear output, G_L = 2 I: bp sends 2 e W_L down, dfa sends e B_1; B_1 = 2 W_L agrees."""
    net = _net(kind, "relu", depth=2)
    rule = DFARule(net, DFAOptions(), seed=0)
    rule.feedback[0].copy_(2.0 * net.layers[1].weight.detach())
    x = _input(net, steps=1)
    ours = _grads(rule, x, Y)
    ref = _grads(BPRule(net, BPOptions(), seed=0), x, Y)
    for got, want in zip(ours, ref):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def _hand_time_local(net: Network, x: torch.Tensor, y: torch.Tensor, feedback, direct: bool,
                     window="step"):
    """Step by step: delta_L = G^T e * f'(V_L); delta_l from delta_{l+1} through B (fa) or
    from e (dfa); dW += delta outer P with Q = alpha Q + s_in, P = beta P + Q. e is the error
    of the step's output (``step``) or of the output averaged over its loss window (W steps;
    ``sample``: all of them)."""
    steps, b = x.shape[:2]
    win = {"step": 1, "sample": steps}.get(window, window)
    nrn = net.layers[0].neuron
    n = len(net.layers)
    syn = [torch.zeros(b, l.weight.shape[0]) for l in net.layers]
    mem = [torch.zeros(b, l.weight.shape[0]) for l in net.layers]
    q = [torch.zeros(b, l.weight.shape[1]) for l in net.layers]
    p = [torch.zeros(b, l.weight.shape[1]) for l in net.layers]
    onehot = torch.eye(3)[y]
    record = []   # per step: membranes, eligibility traces, output logits
    for t in range(steps):
        inp = x[t].reshape(b, -1)
        vs, ins = [], []
        for i, layer in enumerate(net.layers):
            w = layer.weight.detach()
            syn[i] = nrn.alpha * syn[i] + inp @ w.t()
            mem[i] = nrn.beta * mem[i] + syn[i]
            v = mem[i].clone()
            s = (v > nrn.threshold).float()
            mem[i] = mem[i] * (1 - s)
            q[i] = nrn.alpha * q[i] + inp
            p[i] = nrn.beta * p[i] + q[i]
            vs.append(v)
            ins.append(p[i].clone())
            inp = s
        record.append((vs, ins, inp @ net.layers[-1].readout.t()))
    errors = []
    for start in range(0, steps, win):
        stop = min(start + win, steps)
        mean_logits = torch.stack([record[t][2] for t in range(start, stop)]).mean(0)
        errors += [torch.softmax(mean_logits, 1) - onehot] * (stop - start)
    dw = [torch.zeros_like(l.weight) for l in net.layers]
    for (vs, ins, _), e in zip(record, errors):
        fprime = [1 / (nrn.slope * (v - nrn.threshold).abs() + 1) ** 2 for v in vs]
        delta = [None] * n
        delta[-1] = (e @ net.layers[-1].readout) * fprime[-1]
        for i in range(n - 2, -1, -1):
            back = e @ feedback[i] if direct else delta[i + 1] @ feedback[i + 1]
            delta[i] = back * fprime[i]
        for i in range(n):
            dw[i] += delta[i].t() @ ins[i]
    return [d / (b * steps) for d in dw]


@pytest.mark.parametrize("window", ["step", "sample", 4, 2])
@pytest.mark.parametrize("rule_cls,direct", [(FARule, False), (DFARule, True), (SignSymmetryRule, False)])
def test_spiking_time_local_update_matches_hand_computation(rule_cls, direct, window):
    net = _net("dense", "lif")
    x = _input(net, steps=9)
    rule = rule_cls(net, rule_cls.Options(window=window), seed=0)
    feedback = (rule.feedback if hasattr(rule, "feedback") else rule.feedback_matrices())
    want = _hand_time_local(net, x, Y, feedback, direct, window)
    got = _grads(rule, x, Y, chunk=4)
    for layer, g in zip(net.layers, want):
        torch.testing.assert_close(layer.weight.grad, g, rtol=1e-4, atol=1e-6)
    assert all(layer.weight.grad.abs().sum() > 0 for layer in net.layers)
    assert len(got) == len(net.layers)  # LIF layers have no bias by default


def test_feedback_is_seeded_and_stored_in_checkpoints(tmp_path):
    from spikelocal.checkpoint import load_checkpoint
    from spikelocal.trainer import run

    torch.set_num_threads(1)
    for name in ("fa", "dfa"):
        cfg = tiny_config(rule={"name": name}, training__epochs=1)
        run(cfg, tmp_path / name, progress=False)
        tensors, _ = load_checkpoint(tmp_path / name / "checkpoints" / "last.safetensors")
        stored = {k: v for k, v in tensors.items() if k.startswith("rule.feedback.")}
        assert len(stored) == 2
        net = Network.from_config(cfg.network, (1, 8, 8), 4, seed=cfg.seed)
        cls = FARule if name == "fa" else DFARule
        again = cls(net, cls.Options(), seed=cfg.seed).state_tensors()
        other = cls(net, cls.Options(), seed=cfg.seed + 1).state_tensors()
        for key, value in again.items():
            torch.testing.assert_close(stored[f"rule.{key}"], value)
            assert not torch.equal(other[key], value)


@pytest.mark.parametrize("rule,fragment", [
    ({"name": "fa", "mode": "layerwise"}, "rule 'fa' takes: name, loss, window, feedback_scale"),
    ({"name": "sign_symmetry", "feedback_scale": 2.0}, "rule.feedback_scale"),
    ({"name": "bp", "loss": "hinge"}, "rule.loss"),
    ({"name": "backprop"}, "unknown rule"),
])
def test_bad_rule_options_are_one_line_errors(rule, fragment):
    with pytest.raises(ConfigError) as info:
        tiny_config(rule=rule)
    assert fragment in str(info.value) and "\n" not in str(info.value)
    if rule["name"] == "backprop":  # lists what is accepted (other rules may be registered too)
        known = str(info.value).split("known: ", 1)[1]
        assert {"bp", "fa", "dfa", "sign_symmetry", "local"} <= set(known.replace(",", " ").split())


def test_cli_rejects_unknown_rule_with_status_2(tmp_path):
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tiny_config_dict(rule={"name": "fa", "mode": "layerwise"})))
    proc = subprocess.run([sys.executable, "-m", "spikelocal", "run", str(path), "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "rule.mode" in proc.stderr
    assert not (tmp_path / "r").exists()


def test_rule_that_cannot_train_a_layer_type_is_a_one_line_error(monkeypatch):
    monkeypatch.setattr(FARule.Options, "supports", ("dense", "rate", "spiking"))
    with pytest.raises(ConfigError) as info:
        tiny_config(conv=True, rule={"name": "fa"})
    assert "cannot train network.layers.0 (conv); it trains: dense, rate, spiking" in str(info.value)
    tiny_config(conv=False, rule={"name": "fa"})  # dense layers are fine


def test_sign_symmetry_feedback_has_the_scale_of_fa_feedback_on_spiking_layers():
    """sign(W) * mean|W| / g: on a spiking net (init divided by g) it starts in fa's range,
    so a silent net's hidden error is not g^2 too small to move (feedback.py docstring)."""
    from spikelocal.rules.feedback import init_gain

    shifted = _net("dense", "lif", seed=4)
    net = Network.from_config(shifted.cfg, shifted.input_shape, 3, seed=4)  # the plain init, without _net's shift
    ss = SignSymmetryRule(net, SignSymmetryOptions(), seed=0).feedback_matrices()
    fa = FARule(net, FAOptions(), seed=0).feedback
    for i in (1, 2):
        g = init_gain(net.layers[i])
        assert 0 < g < 0.1
        w = net.layers[i].weight
        torch.testing.assert_close(ss[i], torch.sign(w) * w.abs().mean() / g)
        ratio = float(ss[i].abs().mean() / fa[i].abs().mean())
        assert 0.8 < ratio < 1.25, ratio
    rate = _net("dense", "relu")
    assert init_gain(rate.layers[1]) == 1.0


def test_feedback_matrices_are_restored_on_resume(tmp_path, monkeypatch):
    """The checkpoint's matrices, not a fresh draw, are used after --resume; a killed and
    resumed run ends exactly like an uninterrupted one."""
    from spikelocal.checkpoint import load_checkpoint
    from spikelocal.data import load_dataset
    from spikelocal.trainer import Trainer, run

    torch.set_num_threads(1)
    for name in ("fa", "dfa"):
        cfg = tiny_config(rule={"name": name}, training__epochs=2)
        full = run(cfg, tmp_path / f"{name}_full", progress=False)
        original = Trainer.train_epoch

        def dies_in_epoch_2(self, progress):
            if self.epoch == 1:
                raise KeyboardInterrupt
            return original(self, progress)

        monkeypatch.setattr(Trainer, "train_epoch", dies_in_epoch_2)
        with pytest.raises(KeyboardInterrupt):
            run(cfg, tmp_path / f"{name}_killed", progress=False)
        monkeypatch.setattr(Trainer, "train_epoch", original)
        resumed = run(cfg, tmp_path / f"{name}_killed", resume=True, progress=False)
        assert resumed["test_accuracy"] == full["test_accuracy"]
        assert resumed["train_accuracy"] == full["train_accuracy"]

        trainer = Trainer(cfg, load_dataset(cfg.data, cfg.seed))
        for b in trainer.rule.feedback.values():
            b.zero_()
        tensors, meta = load_checkpoint(tmp_path / f"{name}_full" / "checkpoints" / "last.safetensors")
        trainer.load_state(tensors, meta)
        for i, b in trainer.rule.feedback.items():
            torch.testing.assert_close(b, tensors[f"rule.feedback.{i}"])
            assert b.abs().sum() > 0
