from __future__ import annotations

import json

import torch

from spikelocal import rundir
from spikelocal.checkpoint import load_checkpoint
from spikelocal.train import run

from conftest import tiny_config


def test_tiny_spiking_mlp_learns(tiny_run):
    summary = json.loads((tiny_run / "summary.json").read_text())
    assert summary["test_accuracy"] > 0.6
    assert summary["epochs"] == 3
    rows = rundir.read_metrics(tiny_run)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
