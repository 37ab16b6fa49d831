"""``convert``: a run directory -> integer network, core mapping, core file and evaluation.

Output directory (written under a temporary name, renamed when complete)::

    conversion.json   float_test_accuracy, fixed_test_accuracy (fractions, same encoded test
                      inputs), weight_bits, cores_used, fits_one_chip, per-layer quantisation
                      report (exponent, clip, du, dv, vth, what was clipped or rounded away),
                      spike-count agreement per layer (against the fine-tuned float weights
                      with --finetune), overflow events, the mapping, the weight-bit sweep
                      and, with fine-tuning, the accuracy before it and a float control
    mapping.txt       one line per core: neurons, axons, synapse memory and utilisation
    cores.h5          the core file (:mod:`.corefile`), checked to rebuild the same spikes
    sweep.csv/.md/.png  accuracy and agreement for 2..8 weight bits (without --no-sweep)

Recurrent and ALIF networks convert too (:mod:`.fixed_point`); the accuracy of a task that
answers at its end (cue accumulation, delayed recall) is scored, on both sides, over the
steps from its decision step on, as the run's own evaluation does; a linear output layer
(read by the host) has no spikes to compare, so ``decision_agreement`` (same predicted class)
stands beside the spiking layers' count agreement.

Inputs are the run's encoding (rate or latency spikes) of the test set, drawn from fixed
seeds, so float and integer networks see exactly the same spikes. Exponents are calibrated
on the float network's activity for a few hundred *training* images.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from .. import seeds
from ..data import batch_generator, encode, load_dataset
from ..errors import ConfigError, ExportError, RunDirError
from ..config.datasets import decision_start
from ..core.network import Network
from ..rundir import load_network, open_run, run_path
from .corefile import read_corefile, write_corefile
from .fixed_point import IntegerNetwork, LayerStats, Rounding, quantize_network
from .mapping import map_network
from .reference import run_float
from .simulator import simulate_integer
from .targets import Target, load_target
from .finetune import finetune as run_finetune

SWEEP_BITS = (2, 3, 4, 5, 6, 7, 8)


def _check_run(config) -> None:
    if config.data.encoding not in ("rate", "latency"):
        raise ConfigError(f"data.encoding: {config.data.encoding!r} gives analog input; conversion needs "
                          "spike input (rate or latency)")


def calibration_stats(net: Network, spikes: torch.Tensor) -> list[LayerStats]:
    act = run_float(net, spikes)
    return [LayerStats(a, b, c, d) for a, b, c, d in
            zip(act.max_input, act.max_current, act.max_voltage, act.max_adaptation)]


class Evaluator:
    """Float and integer networks on the same encoded test batches."""

    def __init__(self, config, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> None:
        self.config, self.x, self.y, self.bs = config, x, y, batch_size
        self.score_from = decision_start(config.data)
        self.float_predictions: Optional[np.ndarray] = None

    def batches(self):
        for i, start in enumerate(range(0, len(self.x), self.bs)):
            gen = batch_generator(self.config.seed + seeds.CALIBRATION, 0, i)
            spikes = torch.cat(list(encode(self.config, self.x[start:start + self.bs], gen)))
            yield spikes, self.y[start:start + self.bs].numpy()

    def float_counts(self, net: Network) -> tuple[float, list[np.ndarray]]:
        correct, counts = 0, []
        predictions = []
        for spikes, y in self.batches():
            act = run_float(net, spikes, self.score_from)
            predictions.append(act.scores.argmax(1))
            counts.append(act.counts)
        self.float_predictions = np.concatenate(predictions)
        correct = int((self.float_predictions == self.y.numpy()).sum())
        return correct / len(self.x), [np.concatenate(k) for k in zip(*counts)]

    def integer(self, int_net: IntegerNetwork) -> tuple[float, list[np.ndarray], list[dict[str, int]]]:
        correct, counts, overflow = 0, [], None
        predictions = []
        for spikes, y in self.batches():
            r = simulate_integer(int_net, spikes.numpy().astype(np.uint8), score_from=self.score_from)
            predictions.append(r.scores.argmax(1))
            correct += int((predictions[-1] == y).sum())
            counts.append(r.counts)
            overflow = r.overflow if overflow is None else [
                {k: a[k] + b[k] for k in a} for a, b in zip(overflow, r.overflow)]
        self.fixed_predictions = np.concatenate(predictions)
        return correct / len(self.x), [np.concatenate(k) for k in zip(*counts)], overflow or []

    def decision_agreement(self) -> float:
        """Fraction of test samples on which the last float and integer runs predict alike."""
        return float(np.mean(self.float_predictions == self.fixed_predictions))


def agreement(float_counts: list[np.ndarray], int_counts: list[np.ndarray]) -> list[dict[str, float]]:
    """Per spiking layer: exact match of per-neuron counts, their correlation, total spikes
    (a linear output layer's float sums are not spike counts and are left out)."""
    out = []
    for l, (f, i) in enumerate(zip(float_counts, int_counts), start=1):
        if f.dtype.kind == "f":
            continue
        f, i = f.astype(np.float64).ravel(), i.astype(np.float64).ravel()
        corr = float(np.corrcoef(f, i)[0, 1]) if f.std() > 0 and i.std() > 0 else float(np.array_equal(f, i))
        out.append({"layer": l, "exact_count_fraction": float(np.mean(f == i)), "count_correlation": corr,
                    "mean_abs_count_difference": float(np.mean(np.abs(f - i))),
                    "float_spikes": int(f.sum()), "fixed_spikes": int(i.sum()),
                    "spike_ratio": float(i.sum() / f.sum()) if f.sum() else float("nan")})
    return out


def _out_dir(run_dir: Path, out: Optional[Path], target: Target, bits: int) -> Path:
    out = out if out is not None else run_dir / f"convert_{target.name}_w{bits}"
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunDirError(f"{out}: exists and is not empty; choose another --out")
    return out


def convert(run_dir: "str | os.PathLike[str] | Any", out_dir: Optional[str | os.PathLike[str]] = None,
            target: str | Path | Target = "loihi", weight_bits: int = 8, rounding: Rounding = "nearest",
            finetune: bool = False, finetune_fraction: float = 0.1, finetune_epochs: int = 1,
            finetune_lr: Optional[float] = None, sweep: bool = True, test_samples: Optional[int] = None,
            batch_size: int = 500, seed: int = 0) -> dict[str, Any]:
    """Convert a finished run (its directory, or a :class:`spikelocal.Run`); returns what
    conversion.json holds (module docstring)."""
    run_dir = run_path(run_dir)
    tgt = load_target(target)
    if rounding not in ("nearest", "stochastic"):
        raise ConfigError(f"--rounding {rounding!r}: expected nearest or stochastic")
    open_run(run_dir, require_finished=True)
    config, net = load_network(run_dir)
    _check_run(config)
    if finetune and any(layer.is_recurrent for layer in net.layers):
        raise ConfigError("--finetune: fine-tuning keeps only feed-forward weights on the grid; "
                          "convert a recurrent network without it")
    out = _out_dir(run_dir, Path(out_dir) if out_dir is not None else None, tgt, weight_bits)
    int_net = quantize_network(net, tgt, weight_bits, rounding, seed=seed)  # validates before any work
    map_network(int_net, tgt)

    data = load_dataset(config.data, config.seed)
    x, y = data.test_x, data.test_y
    if test_samples is not None:
        x, y = x[:test_samples], y[:test_samples]
    calib = torch.cat(list(encode(config, data.train_x[:256], batch_generator(config.seed + seeds.CALIBRATION, 1, 0))))
    ev = Evaluator(config, x, y, batch_size)

    stats = calibration_stats(net, calib)
    int_net = quantize_network(net, tgt, weight_bits, rounding, stats=stats, seed=seed)
    float_acc, float_counts = ev.float_counts(net)
    summary: dict[str, Any] = {"run_dir": str(run_dir), "target": tgt.name, "rounding": rounding,
                               "weight_bits": weight_bits, "test_samples": len(x), "steps": config.data.steps,
                               "encoding": config.data.encoding, "float_test_accuracy": float_acc}
    try:
        summary["run_test_accuracy"] = json.loads((run_dir / "summary.json").read_text())["test_accuracy"]
    except (OSError, KeyError, ValueError):
        pass
    reference_counts = float_counts
    if finetune:
        before_acc, _, _ = ev.integer(int_net)
        clips = [r["clip"] for r in int_net.report]
        tuned, info = run_finetune(config, net, data, clips, weight_bits, tgt, finetune_fraction,
                                   finetune_epochs, finetune_lr, seed)
        int_net = quantize_network(tuned, tgt, weight_bits, "nearest", stats=calibration_stats(tuned, calib),
                                   seed=seed, clips=clips)
        info["fixed_test_accuracy_before"] = before_acc
        control, _ = run_finetune(config, net, data, clips, weight_bits, tgt, finetune_fraction,
                                  finetune_epochs, finetune_lr, seed, on_grid=False)
        info["float_test_accuracy_after_same_training"] = ev.float_counts(control)[0]
        info["float_test_accuracy_of_tuned_weights"], reference_counts = ev.float_counts(tuned)
        summary["finetune"] = info
    fixed_acc, int_counts, overflow = ev.integer(int_net)
    hard = [f"layer {l} ({o['u_wrapped']} u wraps, {o['a_in_saturated']} a_in saturations)"
            for l, o in enumerate(overflow, start=1) if o["u_wrapped"] or o["a_in_saturated"]]
    if hard:  # v saturation is benign (deep hyperpolarisation); a wrapped u flips its sign
        warnings.warn(f"test inputs drove the chip beyond the calibrated range: {', '.join(hard)}; "
                      "see conversion.json 'overflow'", RuntimeWarning, stacklevel=2)
    mapping = map_network(int_net, tgt)
    summary.update({"fixed_test_accuracy": fixed_acc, "accuracy_drop_points": 100 * (float_acc - fixed_acc),
                    "cores_used": mapping.cores_used, "fits_one_chip": mapping.fits_one_chip,
                    "layers": int_net.report, "agreement": agreement(reference_counts, int_counts),
                    "agreement_reference": "fine-tuned float network" if finetune else "float network",
                    "decision_agreement": ev.decision_agreement(), "decision_from_step": ev.score_from,
                    "overflow": overflow, "mapping": mapping.to_dict()})

    made = [d for d in (out.parent, *out.parent.parents) if not d.exists()]  # removed again on failure
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary output directory
    try:
        write_corefile(tmp / "cores.h5", int_net, mapping)
        summary["corefile_identical_spikes"] = _check_corefile(tmp / "cores.h5", int_net, ev)
        (tmp / "mapping.txt").write_text(mapping.table())
        if sweep:
            summary["sweep"] = _sweep(net, tgt, rounding, stats, ev, seed, tmp, float_acc, float_counts)
        (tmp / "conversion.json").write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for d in made:  # deepest first
            try:
                d.rmdir()
            except OSError:
                break
        raise
    summary["out_dir"] = str(out)
    return summary


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _check_corefile(path: Path, int_net: IntegerNetwork, ev: Evaluator) -> bool:
    """Read the core file back and compare every spike of the first test batch."""
    spikes, _ = next(ev.batches())
    inp = spikes.numpy().astype(np.uint8)
    a = simulate_integer(int_net, inp, check_overflow=False).spikes
    b = simulate_integer(read_corefile(path), inp, check_overflow=False).spikes
    same = all(np.array_equal(p, q) for p, q in zip(a, b))
    if not same:
        raise ExportError(f"{path}: the core file does not rebuild the converted network spike for spike")
    return same


def _sweep(net: Network, tgt: Target, rounding: Rounding, stats: list[LayerStats], ev: Evaluator,
           seed: int, out: Path, float_acc: float, float_counts: list[np.ndarray]) -> list[dict[str, Any]]:
    """The unfine-tuned network at every weight width (float side already evaluated)."""
    rows = []
    for bits in SWEEP_BITS:
        if bits > tgt.weight_bits_max:
            continue
        int_net = quantize_network(net, tgt, bits, rounding, stats=stats, seed=seed)
        acc, counts, _ = ev.integer(int_net)
        agree = agreement(float_counts, counts)
        rows.append({"weight_bits": bits, "fixed_test_accuracy": acc, "float_test_accuracy": float_acc,
                     "drop_points": 100 * (float_acc - acc), "cores_used": map_network(int_net, tgt).cores_used,
                     **{f"layer{a['layer']}_count_correlation": a["count_correlation"] for a in agree}})
    keys = list(rows[0])
    (out / "sweep.csv").write_text(",".join(keys) + "\n" + "".join(
        ",".join(f"{r[k]:.6g}" if isinstance(r[k], float) else str(r[k]) for k in keys) + "\n" for r in rows))
    md = ["| weight bits | fixed acc | float acc | drop (points) | cores |", "|---|---|---|---|---|"]
    md += [f"| {r['weight_bits']} | {r['fixed_test_accuracy']:.4f} | {r['float_test_accuracy']:.4f} | "
           f"{r['drop_points']:.2f} | {r['cores_used']} |" for r in rows]
    (out / "sweep.md").write_text("\n".join(md) + "\n")
    _plot_sweep(rows, out / "sweep.png")
    return rows


def _plot_sweep(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    bits = [r["weight_bits"] for r in rows]
    ax.plot(bits, [100 * r["fixed_test_accuracy"] for r in rows], "o-", label="fixed point")
    ax.axhline(100 * rows[0]["float_test_accuracy"], color="gray", ls="--", label="float")
    ax.set_xlabel("weight bits")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
