"""Figures of a recurrent ALIF run: the adaptive threshold and the recurrent weight matrix."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from spikelocal.analysis.plots_recurrent import threshold_over_time
from spikelocal.analysis.rundata import load_run_data
from spikelocal.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def alif_run(tmp_path_factory) -> Path:
    from spikelocal import train
    out = tmp_path_factory.mktemp("alif") / "run"
    train("experiments/delayed_recall_eprop.yaml", out, overrides=[
        "training.epochs=1", "data.delayed_recall.n_train=128", "data.delayed_recall.n_test=32",
        "record.samples=8", "plots.what=[all]"])
    return out


def test_recurrent_run_draws_adaptation_and_recurrent_weights(alif_run: Path):
    for name in ("adaptation", "weights", "membrane", "raster"):
        data = (alif_run / "plots" / f"{name}.png").read_bytes()
        assert data.startswith(PNG) and len(data) > 5000, name


def test_plotted_threshold_is_theta_plus_adaptation_of_the_earlier_spikes(alif_run: Path):
    data = load_run_data(alif_run)
    layer = data.recording.layer(1)
    neuron = data.net.layers[0].neuron
    spikes = layer.spikes.reshape(layer.spikes.shape[0], layer.spikes.shape[1], -1).astype(np.float64)
    assert spikes.sum() > 0
    a = np.zeros_like(spikes[:, 0])
    expected = np.empty_like(spikes)
    for t in range(spikes.shape[1]):
        expected[:, t] = neuron.threshold + neuron.adapt * a   # A[t] reads a[t-1]
        a = math.exp(-neuron.cfg.dt / neuron.cfg.tau_adapt) * a + spikes[:, t]
    np.testing.assert_allclose(threshold_over_time(data, 1), expected, rtol=1e-5)


def test_adaptation_plot_needs_an_alif_recording(tiny_run: Path, capsys):
    assert main(["plot", str(tiny_run), "--what", "adaptation"]) == 2
    err = capsys.readouterr().err.strip()
    assert "plot adaptation: no layer was recorded with 'adaptation'" in err and len(err.splitlines()) == 1
