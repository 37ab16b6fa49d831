"""A sweep's results: ``results.csv`` (one row per point), ``results.md`` (mean ± std over
seeds) and plots, read back from the points' run directories alone.

The figure compared across points is ``accuracy``: the test accuracy under all of the point's
conditions (``condition_test_accuracy`` of :mod:`spikelocal.conditions`: pruned and/or on
noisy input when those are on, else the plain final test accuracy). Convergence speed is
``epochs_to_95``: the first epoch whose test accuracy reaches 95% of the final one.

Plots (PNG in ``plots/``, mean ± std over the ``seed`` axis, one line per rule, or per base
experiment): accuracy vs training fraction, vs epoch, vs sparsity and vs each noise key in the
grid. The axes a plot does not show are held at a reference value: the full data set
(largest ``data.train_fraction``), the most epochs, no pruning and no noise (smallest value),
otherwise the first value listed.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Optional

from .runner import SHARED_TRAINING, point_dir
from .spec import BASE_AXIS, SEED_AXIS, SweepSpec
from ..checkpoint import atomic_write_text as write

RESULTS_CSV = "results.csv"
RESULTS_MD = "results.md"
PLOTS = "plots"
RULE_AXIS = "rule.name"
FRACTION_AXIS = "data.train_fraction"
SPARSITY_AXIS = "prune.sparsity"
METRICS = ("accuracy", "test_accuracy", "best_test_accuracy", "pruned_test_accuracy", "noisy_test_accuracy",
           "prune_sparsity", "epochs", "epochs_to_95", "best_epoch", "val_accuracy", "train_seconds",
           "train_samples")


def epochs_to_fraction(curve: list[float], fraction: float = 0.95) -> Optional[int]:
    """First epoch (1-based) whose accuracy reaches ``fraction`` of the last epoch's."""
    if not curve:
        return None
    target = fraction * curve[-1]
    return next(i + 1 for i, acc in enumerate(curve) if acc >= target)


def _read_curve(run_dir: Path) -> list[float]:
    try:
        with open(run_dir / "metrics.csv") as fh:
            return [float(row["test_acc"]) for row in csv.DictReader(fh)]
    except (OSError, KeyError, ValueError):
        return []


def collect(spec: SweepSpec, out: Path) -> tuple[list[dict[str, Any]], dict[str, list[float]]]:
    """One row per point (grid values, state, error, metrics) and each point's epoch curve."""
    rows, curves = [], {}
    for point in spec.points:
        run_dir = point_dir(out, point)
        row: dict[str, Any] = {"point": point.name, **point.values}
        try:
            status = json.loads((run_dir / "status.json").read_text())
        except (OSError, json.JSONDecodeError):
            status = {"state": "not run"}
        row["state"] = status.get("state", "unknown")
        row["error"] = status.get("error", "")
        try:  # the point whose training this point copied (test-time conditions only differ)
            row["trained_by"] = json.loads((run_dir / SHARED_TRAINING).read_text()).get("source", "")
        except (OSError, json.JSONDecodeError):
            row["trained_by"] = ""
        curve = _read_curve(run_dir)
        curves[point.name] = curve
        summary: dict[str, Any] = {}
        if row["state"] == "finished":
            try:
                summary = json.loads((run_dir / "summary.json").read_text())
            except (OSError, json.JSONDecodeError):
                row["state"], row["error"] = "failed", "summary.json missing or unreadable"
        accuracy = summary.get("condition_test_accuracy", summary.get("test_accuracy"))
        row.update({key: summary.get(key) for key in METRICS})
        row["accuracy"] = accuracy
        row["epochs_to_95"] = epochs_to_fraction(curve) if summary else None
        rows.append(row)
    return rows, curves


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value


def atomic_write_text(path: Path, text: str) -> None:
    write(path, text)


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["point"])
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    atomic_write_text(path, buf.getvalue())


def mean_std(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def group_rows(rows: list[dict[str, Any]], by: list[str]) -> list[tuple[tuple[Any, ...], list[dict[str, Any]]]]:
    """Rows grouped by the values of ``by``, in first-seen order."""
    groups: dict[str, tuple[tuple[Any, ...], list[dict[str, Any]]]] = {}
    for row in rows:
        values = tuple(row.get(a) for a in by)
        groups.setdefault(_key(values), (values, []))[1].append(row)
    return list(groups.values())


def _pm(values: list[float], scale: float = 100.0, digits: int = 2) -> str:
    if not values:
        return "—"
    mean, std = mean_std(values)
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}" if len(values) > 1 else f"{mean * scale:.{digits}f}"


def markdown_table(spec: SweepSpec, rows: list[dict[str, Any]]) -> str:
    """One line per combination of the non-seed axes: accuracy (%) mean ± std over seeds."""
    axes = [a for a in spec.axes if a != SEED_AXIS]
    head = axes + ["accuracy (%)", "epochs to 95%", "train s", "finished"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for values, group in group_rows(rows, axes):
        done = [r for r in group if r["state"] == "finished" and r["accuracy"] is not None]
        acc = [float(r["accuracy"]) for r in done]
        e95 = [float(r["epochs_to_95"]) for r in done if r["epochs_to_95"] is not None]
        secs = [float(r["train_seconds"]) for r in done if r["train_seconds"] is not None]
        cells = [str(_cell(v)) for v in values] + [
            _pm(acc), _pm(e95, 1.0, 1), f"{sum(secs) / len(secs):.1f}" if secs else "—",
            f"{len(done)}/{len(group)}"]
        lines.append("| " + " | ".join(cells) + " |")
    failed = [r for r in rows if r["state"] != "finished"]
    text = "\n".join(lines) + "\n"
    if failed:
        text += "\nNot finished:\n\n" + "".join(
            f"- `{r['point']}`: {r['state']}{': ' + r['error'] if r['error'] else ''}\n" for r in failed)
    return text


# ---------------------------------------------------------------- plots ---------------
def reference_value(axis: str, values: list[Any]) -> Any:
    """The value an axis is held at in plots of other axes (see the module docstring)."""
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if numeric and axis in (FRACTION_AXIS, "training.epochs"):
        return max(values)
    if numeric and (axis.startswith("prune.") or axis.startswith("noise.")):
        return min(values)
    return values[0]


def line_axis(spec: SweepSpec) -> Optional[str]:
    for axis in (RULE_AXIS, BASE_AXIS):
        if axis in spec.axes:
            return axis
    return None


def _held(spec: SweepSpec, rows: list[dict[str, Any]], free: list[str]) -> list[dict[str, Any]]:
    """The finished rows whose axes other than ``free`` (and seed) are at their reference."""
    ref = {a: reference_value(a, spec.grid[a]) for a in spec.axes if a not in free and a != SEED_AXIS}
    return [r for r in rows if r["state"] == "finished" and r["accuracy"] is not None
            and all(_key(r[a]) == _key(v) for a, v in ref.items())]


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(figsize=(5.2, 3.6))


def _finish(plt, fig, ax, title: str, xlabel: str, ylabel: str, path: Path, held: str) -> Path:
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    if held:
        fig.text(0.01, 0.005, held, fontsize=6, color="0.4")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)
    return path


def _held_text(spec: SweepSpec, free: list[str]) -> str:
    parts = [f"{a}={_cell(reference_value(a, spec.grid[a]))}" for a in spec.axes
             if a not in free and a != SEED_AXIS and len(spec.grid[a]) > 1]
    return ("held at " + ", ".join(parts)) if parts else ""


def plot_vs_axis(spec: SweepSpec, rows: list[dict[str, Any]], axis: str, path: Path, log_x: bool = False) -> Optional[Path]:
    """Accuracy (%) against one grid axis, one line per rule, mean ± std over seeds."""
    lines_by = line_axis(spec)
    free = [axis] + ([lines_by] if lines_by else [])
    held = _held(spec, rows, free)
    if not held:
        return None
    plt, fig, ax = _figure()
    for (label,), group in group_rows(held, [lines_by] if lines_by else ["__none__"]):
        xs, means, stds = [], [], []
        for (x,), pts in sorted(group_rows(group, [axis]), key=lambda g: g[0][0]):
            mean, std = mean_std([float(p["accuracy"]) for p in pts])
            xs.append(x)
            means.append(mean * 100)
            stds.append(std * 100)
        ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=str(label) if lines_by else None)
    if log_x:
        ax.set_xscale("log")
        ax.minorticks_off()
    if all(isinstance(r[axis], (int, float)) for r in held):
        ticks = sorted({float(r[axis]) for r in held})
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    return _finish(plt, fig, ax, f"{spec.name}: accuracy vs {axis}", axis, "test accuracy (%)", path,
                   _held_text(spec, free))


def plot_vs_epoch(spec: SweepSpec, rows: list[dict[str, Any]], curves: dict[str, list[float]],
                  path: Path) -> Optional[Path]:
    """Test accuracy (%) of every epoch, one line per rule, mean ± std band over seeds."""
    lines_by = line_axis(spec)
    free = [lines_by] if lines_by else []
    held = [r for r in _held(spec, rows, free) if curves.get(r["point"])]
    if not held:
        return None
    plt, fig, ax = _figure()
    for (label,), group in group_rows(held, [lines_by] if lines_by else ["__none__"]):
        length = min(len(curves[r["point"]]) for r in group)
        stats = [mean_std([curves[r["point"]][e] for r in group]) for e in range(length)]
        epochs = list(range(1, length + 1))
        means = [m * 100 for m, _ in stats]
        ax.plot(epochs, means, marker="o", label=str(label) if lines_by else None)
        ax.fill_between(epochs, [(m - s) * 100 for m, s in stats], [(m + s) * 100 for m, s in stats], alpha=0.2)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _finish(plt, fig, ax, f"{spec.name}: accuracy vs epoch", "epoch", "test accuracy (%)", path,
                   _held_text(spec, free))


def write_plots(spec: SweepSpec, rows: list[dict[str, Any]], curves: dict[str, list[float]], out: Path) -> list[Path]:
    plot_dir = out / PLOTS
    plot_dir.mkdir(exist_ok=True)
    made = [plot_vs_epoch(spec, rows, curves, plot_dir / "accuracy_vs_epoch.png")]
    if FRACTION_AXIS in spec.axes:
        made.append(plot_vs_axis(spec, rows, FRACTION_AXIS, plot_dir / "accuracy_vs_fraction.png", log_x=True))
    if SPARSITY_AXIS in spec.axes:
        made.append(plot_vs_axis(spec, rows, SPARSITY_AXIS, plot_dir / "accuracy_vs_sparsity.png"))
    noise_axes = [a for a in spec.axes if a.startswith("noise.")]
    for axis in noise_axes:
        name = "accuracy_vs_noise.png" if len(noise_axes) == 1 else f"accuracy_vs_noise_{axis.split('.')[-1]}.png"
        made.append(plot_vs_axis(spec, rows, axis, plot_dir / name))
    return [p for p in made if p is not None]


def write_results(spec: SweepSpec, out: Path, plots: bool = True) -> dict[str, Any]:
    """Write results.csv, results.md and the plots of the sweep in ``out``; return counts and paths."""
    rows, curves = collect(spec, out)
    write_csv(rows, out / RESULTS_CSV)
    atomic_write_text(out / RESULTS_MD, f"# Sweep {spec.name}\n\n" + markdown_table(spec, rows))
    made = write_plots(spec, rows, curves, out) if plots else []
    finished = sum(r["state"] == "finished" for r in rows)
    return {"points": len(rows), "finished": finished, "failed": len(rows) - finished,
            "csv": out / RESULTS_CSV, "markdown": out / RESULTS_MD, "plots": made}
