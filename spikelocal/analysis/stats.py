"""Firing statistics of recorded spike trains (numpy arrays ``spikes [N, T, n]``, 0/1).

Definitions (N samples, T steps of dt seconds, n neurons; s_i[t] the spike train)::

    rate_i      = sum_{samples, t} s_i[t] / (N T dt)                   (Hz)
    silent      = fraction of neurons with rate_i = 0 over all recorded samples
    saturated   = fraction of neurons that fire at >= `level` of all steps (default 0.9;
                  with a hard reset a LIF neuron can fire at most once per step)
    ISI         = intervals between consecutive spikes of one neuron within one sample (s)
    CV_i        = std(ISI_i) / mean(ISI_i), ISIs pooled over samples; NaN with < 3 ISIs
    Fano_i      = mean over classes c of Var(count_i | c) / E(count_i | c), the spike count
                  per sample; samples of one class stand in for repeated trials; NaN when
                  the neuron is silent for every class
    synchrony   = chi^2 = Var_t(A[t]) / mean_i Var_t(s_i[t]),  A[t] = mean_i s_i[t], per
                  sample, averaged over samples (Golomb & Rinzel 1993, Physica D 72:259;
                  Golomb 2007, Scholarpedia 2:1347): ~1/n for independent neurons, 1 for
                  perfectly synchronous ones; NaN when no neuron varies
    preferred_i = argmax_c mean rate_i | c
    selectivity_i = (r_pref - r_rest) / (r_pref + r_rest), r_rest the mean rate over the
                  other classes (Morcos et al. 2018, ICLR, "On the importance of single
                  directions for generalization"); 0 = unselective, 1 = fires for one class only
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SATURATION_LEVEL = 0.9


def firing_rates(spikes: np.ndarray, dt: float) -> np.ndarray:
    """Per-neuron firing rate in Hz, [n]."""
    n_samples, steps = spikes.shape[:2]
    return spikes.sum(axis=(0, 1), dtype=np.float64) / (n_samples * steps * dt)


def silent_fraction(spikes: np.ndarray) -> float:
    return float((spikes.sum(axis=(0, 1)) == 0).mean())


def saturated_fraction(spikes: np.ndarray, level: float = SATURATION_LEVEL) -> float:
    per_step = spikes.mean(axis=(0, 1), dtype=np.float64)
    return float((per_step >= level).mean())


def isi(spikes: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """(all ISIs in seconds pooled over neurons and samples, per-neuron CV [n])."""
    n_samples, steps, n = spikes.shape
    trains = np.ascontiguousarray(spikes.transpose(0, 2, 1)).reshape(-1, steps)  # [N n, T]
    rows, times = np.nonzero(trains)
    same = rows[1:] == rows[:-1]
    intervals = (times[1:] - times[:-1])[same].astype(np.float64) * dt
    neuron = rows[1:][same] % n
    count = np.bincount(neuron, minlength=n)
    total = np.bincount(neuron, weights=intervals, minlength=n)
    total_sq = np.bincount(neuron, weights=intervals ** 2, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        var = np.maximum(total_sq / count - mean ** 2, 0.0)
        cv = np.sqrt(var) / mean
    cv[count < 3] = np.nan
    return intervals, cv


def fano_factor(spikes: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-neuron Fano factor of the spike count per sample within classes, [n]."""
    counts = spikes.sum(axis=1, dtype=np.float64)        # [N, n]
    ratios = []
    for c in np.unique(labels):
        group = counts[labels == c]
        if len(group) < 2:
            continue
        mean = group.mean(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratios.append(np.where(mean > 0, group.var(0, ddof=1) / mean, np.nan))
    if not ratios:
        return np.full(spikes.shape[2], np.nan)
    stacked = np.stack(ratios)
    out = np.full(stacked.shape[1], np.nan)
    valid = ~np.isnan(stacked).all(0)
    out[valid] = np.nanmean(stacked[:, valid], axis=0)
    return out


def synchrony(spikes: np.ndarray) -> float:
    """Golomb's chi^2 synchrony, averaged over samples (see the module docstring)."""
    s = spikes.astype(np.float64)
    pop_var = s.mean(axis=2).var(axis=1)                 # [N]
    single_var = s.var(axis=1).mean(axis=1)              # [N]
    ok = single_var > 0
    if not ok.any():
        return math.nan
    return float((pop_var[ok] / single_var[ok]).mean())


def selectivity(spikes: np.ndarray, labels: np.ndarray, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(preferred class [n], selectivity index [n]); -1 and NaN for silent neurons."""
    counts = spikes.sum(axis=1, dtype=np.float64)        # [N, n]
    per_class = np.zeros((classes, counts.shape[1]))
    present = np.zeros(classes, dtype=bool)
    for c in range(classes):
        mask = labels == c
        if mask.any():
            per_class[c] = counts[mask].mean(0)
            present[c] = True
    per_class = per_class[present]
    class_ids = np.flatnonzero(present)
    best = per_class.argmax(0)
    r_pref = per_class.max(0)
    r_rest = (per_class.sum(0) - r_pref) / max(len(per_class) - 1, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        index = (r_pref - r_rest) / (r_pref + r_rest)
    silent = r_pref == 0
    preferred = np.where(silent, -1, class_ids[best])
    index[silent] = np.nan
    return preferred, index


@dataclass
class LayerStats:
    """Per-neuron arrays of one layer and their summary (see :meth:`summary`)."""

    layer: int
    rate_hz: np.ndarray
    cv: np.ndarray
    fano: np.ndarray
    preferred: np.ndarray
    selectivity: np.ndarray
    isi_s: np.ndarray
    silent: float
    saturated: float
    synchrony: float

    def summary(self) -> dict[str, float]:
        def nanmean(a: np.ndarray) -> float | None:
            return float(np.nanmean(a)) if np.isfinite(a).any() else None

        return {
            "neurons": int(len(self.rate_hz)),
            "rate_hz_mean": float(self.rate_hz.mean()), "rate_hz_median": float(np.median(self.rate_hz)),
            "silent_fraction": self.silent, "saturated_fraction": self.saturated,
            "isi_count": int(len(self.isi_s)),
            "isi_mean_s": float(self.isi_s.mean()) if len(self.isi_s) else None,
            "cv_mean": nanmean(self.cv), "fano_mean": nanmean(self.fano),
            "synchrony": None if math.isnan(self.synchrony) else self.synchrony,
            "selectivity_mean": nanmean(self.selectivity),
        }


def layer_stats(spikes: np.ndarray, labels: np.ndarray, classes: int, dt: float,
                layer: int = 0, level: float = SATURATION_LEVEL) -> LayerStats:
    """Every statistic of the module docstring for one layer's spikes [N, T, n]."""
    intervals, cv = isi(spikes, dt)
    preferred, index = selectivity(spikes, labels, classes)
    return LayerStats(layer, firing_rates(spikes, dt), cv, fano_factor(spikes, labels), preferred, index,
                      intervals, silent_fraction(spikes), saturated_fraction(spikes, level), synchrony(spikes))


def recording_stats(rec) -> dict[int, LayerStats]:
    """:class:`LayerStats` of every layer of a :class:`~.recording.Recording` with spikes."""
    return {l: layer_stats(layer.spikes, rec.labels, len(rec.classes), rec.dt, l)
            for l, layer in rec.layers.items() if layer.spikes is not None}


def stats_summary(rec, stats: dict[int, LayerStats]) -> dict:
    """The JSON-able block that goes into summary.json under ``"recording"``."""
    first_right = {}
    for i, acc in enumerate(rec.readout_accuracy):
        final = acc[-1]
        reach = np.flatnonzero(acc >= 0.95 * final) if final > 0 else np.array([])
        first_right[f"layer{i + 1}"] = {
            "accuracy_by_step": [round(float(a), 4) for a in acc],
            "steps_to_95pct_of_final": int(reach[0]) + 1 if len(reach) else None,
        }
    return {
        "epoch": rec.epoch, "samples": int(len(rec.labels)), "steps": rec.steps, "dt": rec.dt,
        "layers": {f"layer{l}": s.summary() for l, s in stats.items()},
        "readout_by_step": first_right, "readout_by_step_samples": rec.accuracy_samples,
    }


def neuron_table(stats: dict[int, LayerStats]) -> str:
    """Per-neuron CSV: layer, neuron, rate_hz, cv, fano, preferred_class, selectivity."""
    lines = ["layer,neuron,rate_hz,cv,fano,preferred_class,selectivity"]

    def fmt(v: float) -> str:
        return "" if math.isnan(v) else f"{v:.6g}"

    for l, s in stats.items():
        for i in range(len(s.rate_hz)):
            lines.append(f"{l},{i},{fmt(s.rate_hz[i])},{fmt(s.cv[i])},{fmt(s.fano[i])},"
                         f"{int(s.preferred[i])},{fmt(s.selectivity[i])}")
    return "\n".join(lines) + "\n"
