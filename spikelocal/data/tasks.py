"""Temporal tasks that need memory, generated offline and deterministically from their own
seed (``data.<task>.seed``), delivered as spike trains like the event datasets
(:class:`~spikelocal.data.event_frames.EventFrames`, so the trainer's ``encode`` cuts them
into chunks and nothing downstream knows they were generated).

``cue_accumulation`` (Bellec et al., Nat. Commun. 2020, Fig. 3, after Morcos & Harvey 2016).
Four populations of ``population`` inputs: left, right, recall, noise. A trial shows
``cues`` cues, each a burst of ``cue_steps`` steps on the left or the right population (spike
probability ``rate`` per step and neuron), followed by ``gap_steps`` of silence; then a
delay of ``delay_steps``; then the recall population fires for ``recall_steps``. The noise
population fires at ``noise_rate`` throughout. The label is the side that had more cues
(cues is odd). The answer is read during the recall cue only (:func:`decision_start`), so a
network without memory of the cues can do no better than chance. The paper's version at
dt = 1 ms: 100 ms cues (40 Hz) 50 ms apart, about 1 s of delay, 150 ms of recall; the default
here is that timeline coarsened to about 10 ms a step (cue 10 steps, gap 5, delay 50,
recall 20, rate 0.4 per step), so a trial is 175 steps.

``delayed_recall``. ``classes`` fixed random patterns, each a random half of ``channels``
inputs firing at ``rate`` for ``stimulus_steps`` (every other input at ``noise_rate``, all
the time), a delay, then a recall population of 5 inputs for ``recall_steps``; the answer
(which pattern) is read during the recall.

``randman`` (Zenke & Vogels, "The remarkable robustness of surrogate gradient learning for
instilling complex function in spiking neural networks", Neural Comput. 2021; their
``randman`` package). Each class c is a smooth random map from the D-dimensional unit cube
to [0, 1]^units: unit n's coordinate is the product over d of
``sum_{k<F} theta0 k^-alpha sin(2 pi (k x_d theta1 + theta2))`` with theta ~ U(0, 1) drawn per
(class, unit, d, k) and F = ceil(0.5 * 1e-3^(-1/alpha)) frequencies (their precision 1e-3),
rescaled to [0, 1] over the class's samples. A sample draws x ~ U(0, 1)^D ``spikes`` times;
each value v gives the unit one spike at step floor(v (T - 1)). Recorded defaults: 10
classes, 50 units, D = 1, alpha = 2, 1 spike per unit, T = ``data.steps``.
"""
from __future__ import annotations

import math

import numpy as np

from .. import seeds
from ..config import CueAccumulationConfig, DataConfig, DelayedRecallConfig, RandmanConfig
from ..config.datasets import check_task_config, decision_start, task_input_spec, task_steps  # noqa: F401
from .event_frames import EventFrames

TaskData = tuple[EventFrames, np.ndarray, EventFrames, np.ndarray, list[str]]


def _bernoulli(rng: np.random.Generator, shape: tuple[int, ...], p: float) -> np.ndarray:
    return (rng.random(shape, dtype=np.float32) < p).astype(np.uint8)


def cue_accumulation(c: CueAccumulationConfig, n: int, rng: np.random.Generator):
    """n trials [T, 4 * population] and labels (0: left, 1: right)."""
    pop = c.population
    period = c.cue_steps + c.gap_steps
    steps = c.cues * period + c.delay_steps + c.recall_steps
    labels = np.empty(n, np.int64)

    def trial(i: int) -> np.ndarray:
        x = np.zeros((steps, 4 * pop), np.uint8)
        sides = rng.integers(0, 2, c.cues)
        for j, side in enumerate(sides):
            t0 = j * period
            x[t0:t0 + c.cue_steps, side * pop:(side + 1) * pop] = _bernoulli(rng, (c.cue_steps, pop), c.rate)
        x[steps - c.recall_steps:, 2 * pop:3 * pop] = _bernoulli(rng, (c.recall_steps, pop), c.rate)
        x[:, 3 * pop:] = _bernoulli(rng, (steps, pop), c.noise_rate)
        labels[i] = int(sides.sum() * 2 > c.cues)
        return x

    frames = EventFrames.from_dense((trial(i) for i in range(n)), (4 * pop,), steps)
    return frames, labels


def delayed_recall(r: DelayedRecallConfig, n: int, rng: np.random.Generator, patterns: np.ndarray):
    steps = r.stimulus_steps + r.delay_steps + r.recall_steps
    width = r.channels + 5
    labels = rng.integers(0, r.classes, n)

    def trial(i: int) -> np.ndarray:
        x = _bernoulli(rng, (steps, width), r.noise_rate)
        active = patterns[labels[i]]
        burst = _bernoulli(rng, (r.stimulus_steps, int(active.sum())), r.rate)
        x[:r.stimulus_steps, np.flatnonzero(active)] = burst
        x[steps - r.recall_steps:, r.channels:] = _bernoulli(rng, (r.recall_steps, 5), r.rate)
        return x

    frames = EventFrames.from_dense((trial(i) for i in range(n)), (width,), steps)
    return frames, labels.astype(np.int64)


def randman_values(m: RandmanConfig, rng: np.random.Generator) -> np.ndarray:
    """Values in [0, 1] of every sample of every class: [classes, samples, spikes, units]."""
    freqs = int(math.ceil(0.5 * 1e-3 ** (-1.0 / m.alpha)))
    spectrum = 1.0 / np.arange(1, freqs + 1) ** m.alpha
    k = np.arange(freqs)
    out = np.empty((m.classes, m.samples_per_class, m.spikes, m.units))
    for c in range(m.classes):
        theta = rng.random((3, m.units, m.manifold_dim, freqs))
        x = rng.random((m.samples_per_class * m.spikes, m.manifold_dim))
        value = np.ones((x.shape[0], m.units))
        for d in range(m.manifold_dim):
            phase = 2 * np.pi * (k * x[:, d, None, None] * theta[1, None, :, d] + theta[2, None, :, d])
            value *= (theta[0, None, :, d] * spectrum * np.sin(phase)).sum(-1)
        value -= value.min(0)
        value /= np.maximum(value.max(0), 1e-12)
        out[c] = value.reshape(m.samples_per_class, m.spikes, m.units)
    return out


def randman(m: RandmanConfig, steps: int, rng: np.random.Generator):
    values = randman_values(m, rng)
    times = np.floor(values * (steps - 1)).astype(np.int64)          # [C, S, spikes, units]
    labels = np.repeat(np.arange(m.classes), m.samples_per_class)
    order = rng.permutation(len(labels))

    def sample(i: int) -> np.ndarray:
        c, s = divmod(int(order[i]), m.samples_per_class)
        x = np.zeros((steps, m.units), np.uint8)
        np.add.at(x, (times[c, s].reshape(-1), np.tile(np.arange(m.units), m.spikes)), 1)
        return x

    frames = EventFrames.from_dense((sample(i) for i in range(len(order))), (m.units,), steps)
    return frames, labels[order]


def load_task(cfg: DataConfig) -> TaskData:
    """(train frames, train labels, test frames, test labels, class names) of a task."""
    if cfg.dataset == "cue_accumulation":
        c = cfg.cue_accumulation
        rng = np.random.default_rng([c.seed, seeds.TASK_CUE_ACCUMULATION])
        train = cue_accumulation(c, c.n_train, rng)
        test = cue_accumulation(c, c.n_test, rng)
        names = ["left", "right"]
    elif cfg.dataset == "delayed_recall":
        r = cfg.delayed_recall
        rng = np.random.default_rng([r.seed, seeds.TASK_DELAYED_RECALL])
        patterns = np.stack([rng.permutation(r.channels) < r.channels // 2 for _ in range(r.classes)])
        train = delayed_recall(r, r.n_train, rng, patterns)
        test = delayed_recall(r, r.n_test, rng, patterns)
        names = [f"pattern {i}" for i in range(r.classes)]
    else:
        m = cfg.randman
        frames, labels = randman(m, cfg.steps, np.random.default_rng([m.seed, seeds.TASK_RANDMAN]))
        n_test = int(round(len(labels) * m.test_fraction))
        cut = len(labels) - n_test
        train, test = (frames[:cut], labels[:cut]), (frames[cut:], labels[cut:])
        names = [str(i) for i in range(m.classes)]
    return train[0], train[1], test[0], test[1], names
