"""Firing statistics on spike trains whose answers are known by hand."""
from __future__ import annotations

import math

import numpy as np

from spikelocal.analysis import stats

DT = 1e-3


def test_regular_train_rate_isi_and_cv():
    spikes = np.zeros((4, 20, 2), np.uint8)
    spikes[:, ::2, 0] = 1                       # every other step: 500 Hz, ISI 2 ms, CV 0
    rates = stats.firing_rates(spikes, DT)
    assert np.allclose(rates, [500.0, 0.0])
    intervals, cv = stats.isi(spikes, DT)
    assert len(intervals) == 4 * 9 and np.allclose(intervals, 2e-3)
    assert cv[0] == 0.0 and math.isnan(cv[1])
    assert stats.silent_fraction(spikes) == 0.5
    assert stats.saturated_fraction(spikes) == 0.0


def test_isi_does_not_join_samples_or_neurons():
    spikes = np.zeros((2, 5, 2), np.uint8)
    spikes[0, 4, 0] = 1                          # last step of sample 0 ...
    spikes[1, 0, 0] = 1                          # ... and first of sample 1: no interval
    spikes[0, 0, 1] = spikes[0, 3, 1] = 1        # one interval of 3 steps in neuron 1
    intervals, _ = stats.isi(spikes, DT)
    assert np.allclose(intervals, [3e-3])


def test_cv_of_irregular_intervals():
    spikes = np.zeros((1, 12, 1), np.uint8)
    spikes[0, [0, 1, 3, 6, 10], 0] = 1           # intervals 1, 2, 3, 4
    _, cv = stats.isi(spikes, DT)
    iv = np.array([1, 2, 3, 4.0])
    assert np.isclose(cv[0], iv.std() / iv.mean())


def test_saturated_neuron():
    spikes = np.zeros((3, 10, 2), np.uint8)
    spikes[:, :, 1] = 1
    assert stats.saturated_fraction(spikes) == 0.5


def test_synchrony_identical_vs_independent():
    rng = np.random.default_rng(0)
    one = (rng.random((5, 200, 1)) < 0.2).astype(np.uint8)
    assert np.isclose(stats.synchrony(np.repeat(one, 50, axis=2)), 1.0)
    independent = (rng.random((5, 200, 50)) < 0.2).astype(np.uint8)
    assert stats.synchrony(independent) < 0.1          # ~ 1/50
    assert math.isnan(stats.synchrony(np.zeros((2, 10, 3), np.uint8)))


def test_fano_factor_deterministic_and_bernoulli():
    labels = np.array([0, 0, 0, 1, 1, 1])
    spikes = np.zeros((6, 10, 2), np.uint8)
    spikes[:, :4, 0] = 1                                # same count every sample: Fano 0
    fano = stats.fano_factor(spikes, labels)
    assert fano[0] == 0.0 and math.isnan(fano[1])
    rng = np.random.default_rng(1)
    labels = np.zeros(4000, int)
    p = 0.3
    bern = (rng.random((4000, 50, 1)) < p).astype(np.uint8)   # binomial counts: Fano = 1 - p
    assert abs(stats.fano_factor(bern, labels)[0] - (1 - p)) < 0.05


def test_selectivity_and_preferred_class():
    labels = np.array([0, 0, 1, 1, 2, 2])
    spikes = np.zeros((6, 10, 3), np.uint8)
    spikes[labels == 1, :5, 0] = 1                      # neuron 0 fires for class 1 only
    spikes[:, :3, 1] = 1                                # neuron 1 fires equally for all
    preferred, index = stats.selectivity(spikes, labels, 3)
    assert preferred[0] == 1 and np.isclose(index[0], 1.0)
    assert np.isclose(index[1], 0.0)
    assert preferred[2] == -1 and math.isnan(index[2])


def test_layer_stats_summary_and_table():
    rng = np.random.default_rng(2)
    spikes = (rng.random((20, 15, 8)) < 0.3).astype(np.uint8)
    labels = np.arange(20) % 4
    st = stats.layer_stats(spikes, labels, 4, DT, layer=1)
    summary = st.summary()
    assert summary["neurons"] == 8
    assert abs(summary["rate_hz_mean"] - 300) < 40
    table = stats.neuron_table({1: st}).splitlines()
    assert table[0].startswith("layer,neuron,rate_hz") and len(table) == 9
