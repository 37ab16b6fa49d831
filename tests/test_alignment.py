"""Alignment diagnostics: angles against bp, logged per epoch, grads left untouched."""
from __future__ import annotations

import csv
import math

import pytest
import torch

from spikelocal.diagnostics import alignment_angles, angle_degrees
from spikelocal.rules import RULES
from spikelocal.data import batch_generator, encode
from spikelocal.trainer import Trainer, run
from spikelocal.data import load_dataset
from tests.conftest import tiny_config


def test_angle_degrees():
    a = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    assert angle_degrees(a, 3 * a) == pytest.approx(0.0, abs=1e-6)
    assert angle_degrees(a, -a) == pytest.approx(180.0)
    assert angle_degrees(a, torch.tensor([[0.0, 2.0], [0.0, 0.0]])) == pytest.approx(90.0)
    assert math.isnan(angle_degrees(a, torch.zeros(2, 2)))


def _rows(out):
    with open(out / "metrics.csv") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("rule", ["bp", "fa", "dfa", "sign_symmetry", "local"])
def test_angles_logged_for_every_layer(tmp_path, rule):
    torch.set_num_threads(1)
    options = {"name": rule}
    if rule == "local" and "window" in RULES.get("local").Options.model_fields:
        options["window"] = "step"  # the output layer's loss at every step, as bp's
    cfg = tiny_config(rule=options, training__epochs=2, diagnostics={"alignment": True, "batch_size": 64})
    run(cfg, tmp_path / "r", progress=False)
    rows = _rows(tmp_path / "r")
    assert len(rows) == 2
    for row in rows:
        angles = [float(row[f"layer{i}_angle_bp"]) for i in (1, 2, 3)]
        assert all(0.0 <= a <= 180.0 for a in angles)
        # every rule trains the output layer with the exact gradient of the output loss:
        # the eligibility traces reproduce BPTT through the layer's own (reset-detached) memory
        assert angles[2] == pytest.approx(0.0, abs=1e-2)
        if rule == "bp":
            assert max(angles) == pytest.approx(0.0, abs=1e-2)
        else:
            assert angles[0] > 1.0  # hidden updates are not backprop's
        has_fb = rule in ("fa", "sign_symmetry")
        assert ("layer2_angle_fb_w" in row) == has_fb and ("layer1_angle_fb_w" in row) is False
        if has_fb:
            assert 0.0 < float(row["layer3_angle_fb_w"]) < 180.0


def test_alignment_leaves_grads_untouched():
    torch.set_num_threads(1)
    cfg = tiny_config(rule={"name": "fa"})
    data = load_dataset(cfg.data, cfg.seed)
    trainer = Trainer(cfg, data)
    y = data.train_y[:32]
    trainer.rule.compute_updates(encode(cfg, data.train_x[:32], batch_generator(0, 0, 0)), y,
                                 [True] * len(trainer.net.layers))
    before = [p.grad.clone() for p in trainer.net.parameters()]
    row = alignment_angles(trainer.rule, cfg, data.train_x[32:96], data.train_y[32:96])
    assert set(row) == {"layer1_angle_bp", "layer2_angle_bp", "layer3_angle_bp",
                        "layer2_angle_fb_w", "layer3_angle_fb_w"}
    for p, g in zip(trainer.net.parameters(), before):
        assert torch.equal(p.grad, g)
    assert not trainer.optimizer.state  # no step was taken


def test_alignment_is_off_by_default(tmp_path):
    torch.set_num_threads(1)
    run(tiny_config(rule={"name": "fa"}, training__epochs=1), tmp_path / "r", progress=False)
    assert not any("angle" in key for key in _rows(tmp_path / "r")[0])


def test_all_rules_registered():
    assert {"bp", "fa", "dfa", "sign_symmetry", "local"} <= set(RULES.names())


def test_fa_comes_into_alignment_on_a_small_spiking_net(tmp_path):
    """Lillicrap et al. 2016: W comes to align with the fixed feedback B, so the FA update
    ends up within 90 degrees of backprop's."""
    torch.set_num_threads(1)
    cfg = tiny_config(rule={"name": "fa"}, training__epochs=8, training__lr=3e-3,
                      diagnostics={"alignment": True})
    run(cfg, tmp_path / "r", progress=False)
    rows = _rows(tmp_path / "r")
    first, last = rows[0], rows[-1]
    for i in (2, 3):
        assert float(last[f"layer{i}_angle_fb_w"]) < float(first[f"layer{i}_angle_fb_w"])
        assert float(last[f"layer{i}_angle_fb_w"]) < 80.0
    assert float(last["layer1_angle_bp"]) < 90.0 and float(last["layer2_angle_bp"]) < 90.0
