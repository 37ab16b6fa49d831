"""Pruning and input noise for every trained network of a finished sweep, in one process.

Gupta et al. (arXiv 2212.04614) score each trained network again after global magnitude
pruning and under input noise. Both act after training, so a sweep axis for them would
start a point per level that reloads the data and the network for a single evaluation
(about 4 s each on a busy 2-core machine, longer than most trainings it copies). This
script loads each finished run of ``SWEEP_DIR`` once and evaluates it under every level:

* ``--sparsity``: global magnitude pruning (:func:`spikelocal.conditions.prune_network`,
  ``prune.min_per_layer`` of the run's config) of a copy of the trained network;
* ``--noise``: Gaussian pixel noise of that standard deviation (in units of full white)
  on the test images (:func:`spikelocal.conditions.evaluate_noisy`, the run's seeds).

Writes ``conditions.csv`` (one row per run and condition) and ``conditions.md`` (mean ± std
over seeds per dataset, rule, training fraction and condition) into the sweep directory::

    python bench/holistic_conditions.py sweeps/holistic_rate --sparsity 0.5 0.9 --noise 0.2 0.5
"""
from __future__ import annotations

import argparse
import copy
import csv
import json
import statistics
from collections import defaultdict
from pathlib import Path

import torch

import spikelocal as sl
from spikelocal import rundir
from spikelocal.checkpoint import load_checkpoint
from spikelocal.conditions import evaluate_noisy, prune_network
from spikelocal.data import load_dataset
from spikelocal.trainer import evaluate


def finished_runs(sweep: Path) -> list[Path]:
    """Run directories under ``sweep`` whose status is finished and that trained themselves."""
    runs = []
    for status in sorted(sweep.rglob("status.json")):
        try:
            if json.loads(status.read_text()).get("state") == "finished":
                runs.append(status.parent)
        except (OSError, json.JSONDecodeError):
            continue
    return runs


def score(run_dir: Path, sparsities: list[float], noises: list[float], cache: dict) -> list[dict]:
    """Accuracy of one run's network clean, pruned at each sparsity and under each noise."""
    run = sl.load_run(run_dir)
    config = run.config
    tensors, _ = load_checkpoint(run_dir / rundir.CHECKPOINT)
    best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
    if best:   # early stopping: score the best validation epoch's network, as the summary does
        run.network.load_state_dict(best)
    key = (config.data.dataset, config.seed)
    if key not in cache:
        cache[key] = load_dataset(config.data, config.seed)
    data = cache[key]
    base = {"run": run_dir.name, "dataset": config.data.dataset, "rule": config.rule.name,
            "train_fraction": config.data.train_fraction, "seed": config.seed}
    rows = [{**base, "condition": "clean", "level": 0.0,
             "accuracy": evaluate(run.network, config, data.test_x, data.test_y).accuracy[-1]}]
    for sparsity in sparsities:
        net = copy.deepcopy(run.network)
        prune_network(net, sparsity, config.prune.min_per_layer)
        rows.append({**base, "condition": "pruned", "level": sparsity,
                     "accuracy": evaluate(net, config, data.test_x, data.test_y).accuracy[-1]})
    for sigma in noises:
        noisy = config.model_copy(update={"noise": config.noise.model_copy(update={"gaussian": sigma})})
        rows.append({**base, "condition": "noise", "level": sigma,
                     "accuracy": evaluate_noisy(run.network, noisy, data.test_x, data.test_y)})
    return rows


def table(rows: list[dict]) -> str:
    """Markdown: one line per dataset, rule and fraction; one column per condition level."""
    cells: dict[tuple, dict[tuple, list[float]]] = defaultdict(lambda: defaultdict(list))
    columns: list[tuple] = []
    for row in rows:
        col = (row["condition"], row["level"])
        if col not in columns:
            columns.append(col)
        cells[(row["dataset"], row["rule"], row["train_fraction"])][col].append(100 * row["accuracy"])
    head = ["dataset", "rule", "fraction"] + [c if c == "clean" else f"{c} {lvl:g}" for c, lvl in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (dataset, rule, fraction), by_col in sorted(cells.items()):
        vals = []
        for col in columns:
            acc = by_col.get(col, [])
            std = statistics.stdev(acc) if len(acc) > 1 else 0.0
            vals.append(f"{statistics.mean(acc):.2f} ± {std:.2f} (n={len(acc)})" if acc else "")
        lines.append("| " + " | ".join([dataset, rule, f"{fraction:g}"] + vals) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sweep", type=Path, help="a sweep directory (spikelocal sweep --out)")
    parser.add_argument("--sparsity", type=float, nargs="*", default=[0.5, 0.9])
    parser.add_argument("--noise", type=float, nargs="*", default=[0.2, 0.5])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows: list[dict] = []
    cache: dict = {}
    for run_dir in finished_runs(args.sweep):
        rows += score(run_dir, args.sparsity, args.noise, cache)
    if not rows:
        raise SystemExit(f"{args.sweep}: no finished runs")
    with open(args.sweep / "conditions.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (args.sweep / "conditions.md").write_text(table(rows))
    print(table(rows))


if __name__ == "__main__":
    main()
