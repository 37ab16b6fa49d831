"""CPU cost of a sweep's points, measured on one point, and the projected cost of the whole grid.

Measures, in CPU seconds of this process (one torch thread; CPU time, unlike wall time, is not
inflated by other jobs on a shared machine):

- ``load``: loading the data set of the point;
- ``train``: ``trainer.run`` of the point without its test-time conditions (training plus one
  clean test evaluation per epoch, data loading included);
- ``conditions``: the same point with its conditions on, as the sweep runs it when another
  point trained the network (``spikelocal.sweep.runner`` shared training: copy + resume from
  the final checkpoint), i.e. data loading plus its pruned and/or noisy test evaluations.

From these, ``eval = (conditions - load) / evaluations of the point`` and the cost of one
training sample-epoch ``c = (train - load - epochs * eval) / (epochs * n_train)`` give the
projection for every point of the sweep file (each training: ``load + epochs * (n * c +
eval)``; each point that copies a training: ``load + its evaluations * eval``), with shared
training and with every point trained (``--no-share-training``). Costs differ between rules
(backprop through time costs more per sample than the local rules), so the projection is for
the measured point's rule; give ``--set rule.name=...`` to measure another.

    SPIKELOCAL_DATA=../shared/data python bench/sweep_point_cost.py experiments/holistic_mnist.yaml \\
        --set rule.name=local --set data.train_fraction=0.2 --set prune.sparsity=0.5 --set noise.gaussian=0.2
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml


def cpu() -> float:
    return time.process_time()


def evaluations(config) -> int:
    """Test evaluations a point runs after training: pruned, and noisy (of the pruned net)."""
    return int(bool(config.prune.sparsity) and config.prune.mode == "after") + int(config.noise.active)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sweep", type=Path)
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="grid values of the measured point (others: the first value of each axis)")
    ap.add_argument("--json", type=Path, help="also write the JSON here")
    args = ap.parse_args()

    import torch

    from spikelocal.config import load_experiment
    from spikelocal.data import load_dataset
    from spikelocal.sweep import load_sweep
    from spikelocal.sweep.runner import _copy_training, training_key
    from spikelocal.trainer import run

    torch.set_num_threads(1)
    spec = load_sweep(args.sweep)
    chosen = dict(o.split("=", 1) for o in args.overrides)
    point = next(p for p in spec.points if all(json.dumps(p.values.get(k)) == json.dumps(yaml.safe_load(v))
                                               for k, v in chosen.items()))
    config = point.config
    plain = load_experiment(point.base, list(point.overrides) + ["prune.sparsity=0", "noise.gaussian=0",
                                                                 "noise.spike_deletion=0", "noise.spike_insertion=0",
                                                                 "noise.jitter=0"])
    folder = Path(tempfile.mkdtemp(prefix="spikelocal-point-cost-"))
    out: dict[str, Any] = {"sweep": str(args.sweep), "point": point.name}
    try:
        t0 = cpu()
        data = load_dataset(config.data, config.seed)
        out["cpu_load"] = cpu() - t0
        n_train = len(data.train_x)
        full = len(load_dataset(config.data.model_copy(update={"train_fraction": 1.0}), config.seed).train_x)
        t0, w0 = cpu(), time.perf_counter()
        summary = run(plain, folder / "train", progress=False)
        out["cpu_train"], out["wall_train"] = cpu() - t0, time.perf_counter() - w0
        t0 = cpu()
        _copy_training(folder / "train", folder / "point", config, "train")
        cond = run(config, folder / "point", resume=True, progress=False)
        out["cpu_conditions"] = cpu() - t0
        epochs, n_eval = config.training.epochs, evaluations(config)
        out.update(n_train=n_train, epochs=epochs, evaluations=n_eval, test_accuracy=summary["test_accuracy"],
                   condition_test_accuracy=cond["condition_test_accuracy"])
        eval_cost = (out["cpu_conditions"] - out["cpu_load"]) / max(1, n_eval)
        per_sample = (out["cpu_train"] - out["cpu_load"] - epochs * eval_cost) / (epochs * n_train)
        out["cpu_eval"], out["cpu_per_train_sample_epoch"] = eval_cost, per_sample

        def train_cost(p) -> float:
            n = round(full * p.config.data.train_fraction)
            return out["cpu_load"] + p.config.training.epochs * (n * per_sample + eval_cost)

        groups: dict[str, list] = {}
        for p in spec.points:
            groups.setdefault(training_key(p.config), []).append(p)
        shared = sum(train_cost(g[0]) + evaluations(g[0].config) * eval_cost
                     + sum(out["cpu_load"] + evaluations(p.config) * eval_cost for p in g[1:])
                     for g in groups.values())
        alone = sum(train_cost(p) + evaluations(p.config) * eval_cost for p in spec.points)
        out.update(points=len(spec.points), trainings_shared=len(groups),
                   projected_cpu_hours_shared=shared / 3600, projected_cpu_hours_every_point_trained=alone / 3600,
                   projected_wall_hours_2_free_cores_shared=shared / 3600 / 2,
                   projected_wall_hours_2_free_cores_every_point_trained=alone / 3600 / 2)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
