"""Recurrent layers, adaptive thresholds, subtractive reset and a linear output on the integer core.

Three checks: the step loop against plain-Python integers of the documented equations; a
float network whose parameters the chip holds exactly spikes identically on both cores
(the recurrent spike of step t arrives at t + 1, the threshold reads the adaptation before
the step); a trained recurrent ALIF run converts end to end, through the core file.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from spikelocal.config import NetworkConfig
from spikelocal.core import Network, Simulator, Want
from spikelocal.errors import ExportError
from spikelocal.hardware.convert import calibration_stats
from spikelocal.hardware import (IntegerLayer, IntegerNetwork, load_target, map_network, quantize_network,
                                 read_corefile, simulate_integer, write_corefile)

LOIHI = load_target("loihi")


def _trunc(p: int) -> int:
    return (1 if p >= 0 else -1) * (abs(p) >> 12)


def reference(layer: IntegerLayer, x: np.ndarray) -> list[list[int]]:
    """Spikes of a one-layer network, neuron by neuron in Python integers."""
    n = layer.num_neurons
    u, v, z, last = [0] * n, [0] * n, [0] * n, [0] * n
    thr = layer.vth << 6
    out = []
    for k in range(x.shape[0]):
        fired = []
        for i in range(n):
            a = sum(int(w) << layer.weight_exp for w, s in zip(layer.weight[i], x[k - 1]) if s) if k >= 1 else 0
            a += sum(int(r) << layer.weight_exp for r, s in zip(layer.recurrent[i], last) if s)
            a = max(min(a, 2**15 - 1), -2**15)
            u[i] = _trunc(u[i] * (4096 - layer.du - 1)) + (a << 6)
            u[i] = ((u[i] + 2**23) % 2**24) - 2**23
            v[i] = max(min(_trunc(v[i] * (4096 - layer.dv)) + u[i], 2**23 - 1), -(2**23 - 1))
            s = int(v[i] - z[i] > thr)
            if s:
                v[i] = 0 if layer.reset == "hard" else v[i] - thr
            z[i] = _trunc(z[i] * (4096 - layer.adapt_decay)) + s * layer.adapt_jump
            fired.append(s)
        last = fired
        out.append(fired)
    return out


@pytest.mark.parametrize("reset", ["hard", "subtract"])
def test_recurrent_adaptive_loop_matches_plain_integers(reset):
    rng = np.random.default_rng(3)
    n, m = 5, 4
    layer = IntegerLayer("dense", (m,), (n,), rng.integers(-60, 120, (n, m)), 1, 900, 300, 120,
                         recurrent=rng.integers(-80, 80, (n, n)), reset=reset, adapt_decay=200, adapt_jump=3000)
    x = (rng.random((30, 1, m)) < 0.4).astype(np.uint8)
    got = simulate_integer(IntegerNetwork([layer], (m,), LOIHI, 8, n), x, drain=0).spikes[0][:, 0]
    assert got.tolist() == reference(layer, x[:, 0])
    assert 5 < got.sum() < got.size - 5  # spikes and silences both occur
    plain = simulate_integer(IntegerNetwork([IntegerLayer(**{**layer.__dict__, "recurrent": np.zeros((n, n), int)})],
                                            (m,), LOIHI, 8, n), x, drain=0).spikes[0]
    assert not np.array_equal(plain[:, 0], got)  # the recurrent synapses change the spikes


def exact_net(seed: int = 0) -> Network:
    """Recurrent ALIF -> LIF whose weights, threshold and adaptation lie on the 8-bit grid
    (multiples of 1/127, threshold at a half step so that no sum ties with it) and whose
    decays are exact on the chip (u forgets, v and the adaptation keep)."""
    neuron = {"kind": "alif", "tau_syn": 1e-5, "tau_mem": 1e6, "tau_adapt": 1e6, "dt": 1e-3,
              "threshold": 20.5 / 127, "adaptation": 6 / 127, "reset": "hard"}
    cfg = NetworkConfig.model_validate({
        "neuron": neuron, "output_neuron": {**neuron, "kind": "lif"},
        "layers": [{"kind": "recurrent", "units": 12, "self_connections": False}, {"kind": "dense", "units": 3}]})
    net = Network.from_config(cfg, (8,), 3, seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in net.layers:
            for p in (layer.weight, layer.recurrent):
                if p is not None:
                    p.copy_(torch.randint(-40, 60, p.shape, generator=gen) / 127.0)
            first = layer.recurrent if layer.recurrent is not None else layer.weight
            first[0, 1] = 1.0  # the largest |weight| is the clip: codes are the integers above
    return net


def test_float_and_integer_cores_spike_alike_when_the_chip_holds_the_parameters():
    net = exact_net()
    x = (torch.rand(40, 6, 8, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    int_net = quantize_network(net, LOIHI, 8, stats=calibration_stats(net, x))
    assert min(layer.weight_exp for layer in int_net.layers) >= 0  # half steps of vth are integers
    for rep, layer in zip(int_net.report, net.layers):
        assert rep["threshold_fixed"] == pytest.approx(layer.neuron.threshold, abs=1e-12)
        assert rep["weights_zeroed"] == 0 and rep["weights_clipped"] == 0
    assert int_net.report[0]["adaptation_fixed"] == pytest.approx(6 / 127, abs=1e-12)
    sim = Simulator(net.layers, Want())
    with torch.no_grad():
        records = sim.run(x, sim.start(6, x.device))
    result = simulate_integer(int_net, x.numpy().astype(np.uint8))
    for l, rec in enumerate(records, start=1):
        float_spikes = rec.output.numpy().astype(np.uint8)
        assert float_spikes.sum() > 20
        assert np.array_equal(result.spikes[l - 1][l:l + 40], float_spikes), f"layer {l}"
    # the same net with the recurrence (or the adaptation) ignored spikes differently
    assert int_net.layers[0].recurrent is not None and int_net.layers[0].adapt_jump > 0


def test_corefile_and_mapping_hold_the_recurrent_synapses(tmp_path: Path):
    int_net = quantize_network(exact_net(), LOIHI, 8)  # worst-case exponents
    mapping = map_network(int_net)
    assert mapping.cores[0].input_axons == 8 + 12 and mapping.cores[0].synapses == 12 * 20
    assert mapping.cores[0].output_axons == 12 * 2  # the next layer's core and its own
    write_corefile(tmp_path / "c.h5", int_net, mapping)
    back = read_corefile(tmp_path / "c.h5")
    assert np.array_equal(back.layers[0].recurrent, int_net.layers[0].recurrent)
    assert (back.layers[0].adapt_jump, back.layers[0].adapt_decay) == (int_net.layers[0].adapt_jump, 0)
    x = (np.random.default_rng(2).random((30, 4, 8)) < 0.3).astype(np.uint8)
    a, b = simulate_integer(int_net, x), simulate_integer(back, x)
    assert all(np.array_equal(p, q) for p, q in zip(a.spikes, b.spikes))


def test_a_recurrent_layer_needs_a_one_step_delay():
    slow = LOIHI.model_copy(update={"synaptic_delay": 2})
    with pytest.raises(ExportError, match="synaptic_delay 2"):
        quantize_network(exact_net(), slow, 8)


@pytest.fixture(scope="module")
def recall_run(tmp_path_factory) -> Path:
    from spikelocal import train
    out = tmp_path_factory.mktemp("recall") / "run"
    train("experiments/delayed_recall_eprop.yaml", out, overrides=[
        "training.epochs=4", "data.delayed_recall.n_test=200"])
    return out


def test_trained_recurrent_alif_run_converts_with_parity(recall_run: Path, tmp_path: Path):
    from spikelocal.hardware import convert
    s = convert(recall_run, tmp_path / "conv", sweep=False)
    summary = json.loads((recall_run / "summary.json").read_text())
    assert s["float_test_accuracy"] == pytest.approx(summary["test_accuracy"], abs=1e-6)
    assert s["float_test_accuracy"] > 0.5
    assert abs(s["accuracy_drop_points"]) <= 5 and s["decision_agreement"] >= 0.9
    hidden = s["agreement"][0]
    assert len(s["agreement"]) == 1 and hidden["count_correlation"] > 0.9  # the linear output is left out
    assert s["corefile_identical_spikes"] and s["layers"][0]["recurrent"] and s["layers"][1]["linear_output"]


def test_netx_refuses_the_recurrent_run_in_one_line(recall_run: Path, tmp_path: Path, capsys):
    from spikelocal.cli import main
    rc = main(["export", str(recall_run), "--format", "netx", "--out", str(tmp_path / "n.net")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "netx cannot hold a recurrent layer" in err and not (tmp_path / "n.net").exists()


def test_cores_export_holds_the_recurrent_alif_run(recall_run: Path, tmp_path: Path, capsys):
    """``export --format cores`` takes what the core file holds (recurrence, adaptive
    thresholds, subtractive reset, a linear output) and reads back identically."""
    from spikelocal.cli import main
    out = tmp_path / "net.cores.h5"
    rc = main(["export", str(recall_run), "--format", "cores", "--out", str(out), "--check", "20"])
    text = capsys.readouterr().out
    assert rc == 0 and out.exists()
    check = json.loads(text.split("read_corefile): ", 1)[1].splitlines()[0])
    assert check["neuron_count_agreement"] == [1.0, 1.0] and check["class_agreement"] == 1.0
    assert check["spikes"][0] > 0 and check["spikes"][1] is None   # the linear output has no spikes
    back = read_corefile(out)
    assert back.layers[0].recurrent is not None and back.layers[0].reset == "subtract"
    assert back.layers[0].adapt_jump > 0 and back.layers[1].linear
