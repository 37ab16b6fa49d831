from __future__ import annotations

import json

import torch

from spikelocal import rundir
from spikelocal.checkpoint import load_checkpoint
from spikelocal.trainer import run

from conftest import tiny_config


def test_tiny_spiking_mlp_learns(tiny_run):
    summary = json.loads((tiny_run / "summary.json").read_text())
    assert summary["test_accuracy"] > 0.6
    assert summary["epochs"] == 3
    rows = rundir.read_metrics(tiny_run)
    assert [r["epoch"] for r in rows] == [1, 2, 3]


def test_fixed_readouts_stay_bit_identical(tmp_path):
    torch.set_num_threads(1)
    config = tiny_config()
    from spikelocal.core.network import Network
    from spikelocal.data import load_dataset

    data = load_dataset(config.data, config.seed)
    before = Network.from_config(config.network, data.input_shape, 4, config.seed)
    run(config, tmp_path / "r", progress=False)
    tensors, _ = load_checkpoint(tmp_path / "r" / rundir.CHECKPOINT)
    for i, layer in enumerate(before.layers):
        assert torch.equal(tensors[f"net.layers.{i}.readout"], layer.readout)
        assert not torch.equal(tensors[f"net.layers.{i}.weight"], layer.weight.detach())
    assert all(name != "readout" for name, _ in before.layers[0].named_parameters())


def test_same_seed_same_metrics_bit_for_bit(tmp_path):
    torch.set_num_threads(1)
    run(tiny_config(conv=True), tmp_path / "a", progress=False)
    run(tiny_config(conv=True), tmp_path / "b", progress=False)
    drop = {"epoch_seconds", "train_seconds"}
    rows_a = [{k: v for k, v in r.items() if k not in drop} for r in rundir.read_metrics(tmp_path / "a")]
    rows_b = [{k: v for k, v in r.items() if k not in drop} for r in rundir.read_metrics(tmp_path / "b")]
    assert rows_a == rows_b
    ta, _ = load_checkpoint(tmp_path / "a" / rundir.CHECKPOINT)
    tb, _ = load_checkpoint(tmp_path / "b" / rundir.CHECKPOINT)
    assert all(torch.equal(ta[k], tb[k]) for k in ta)


def test_layerwise_mode_trains_one_layer_per_epoch_share(tmp_path):
    torch.set_num_threads(1)
    config = tiny_config(rule={"name": "local", "mode": "layerwise"})
    summary = run(config, tmp_path / "r", progress=False)
    assert summary["layer_test_accuracy"][0] > 0.6


def test_rate_network_learns(tmp_path):
    torch.set_num_threads(1)
    summary = run(tiny_config(spiking=False), tmp_path / "r", progress=False)
    assert summary["test_accuracy"] > 0.9


def test_nan_loss_stops_with_status_failed_and_keeps_last_checkpoint(tmp_path, monkeypatch):
    import pytest

    from spikelocal.errors import RunFailed
    from spikelocal.rules.local import LocalRule

    torch.set_num_threads(1)
    original = LocalRule.compute_updates
    calls = {"n": 0}

    def diverging(self, chunks, labels, active):
        result = original(self, chunks, labels, active)
        calls["n"] += 1
        if calls["n"] > 16 + 3:  # epoch 1 has 16 batches; fail in epoch 2
            result.losses[-1] = float("nan")
        return result

    monkeypatch.setattr(LocalRule, "compute_updates", diverging)
    out = tmp_path / "r"
    with pytest.raises(RunFailed, match="epoch 2, batch 4: the local loss of layer 3 is nan"):
        run(tiny_config(), out, progress=False)
    status = json.loads((out / rundir.STATUS).read_text())
    assert status["state"] == "failed" and status["epoch"] == 1
    _, meta = load_checkpoint(out / rundir.CHECKPOINT)
    assert meta["epoch"] == 1
    assert len(rundir.read_metrics(out)) == 1


def test_run_flushes_subnormal_floats_and_restores_the_callers_setting(tmp_path, monkeypatch):
    """Weight decay drives unused weights into subnormal floats, 100x slower on x86: a run
    flushes them to zero while it trains and leaves the caller's float arithmetic as it was."""
    import pytest

    from spikelocal import trainer
    from spikelocal.devices import flushing_subnormals

    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush subnormal floats")
    seen = []
    body = trainer._run
    monkeypatch.setattr(trainer, "_run", lambda *args: seen.append(flushing_subnormals()) or body(*args))
    assert not flushing_subnormals()
    run(tiny_config(), tmp_path / "r", progress=False)
    assert seen == [True]
    assert not flushing_subnormals()
