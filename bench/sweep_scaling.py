"""Sweep scheduling: speed-up of 2 local workers over 1, and the overhead of the scheduler.

Two measurements on a synthetic spiking MLP (no data files needed), printed as JSON:

1. ``scaling``: the same CPU-bound sweep (``--points`` points of a few seconds, one torch
   thread each) with ``--workers 1`` and with ``--workers 2`` (``spikelocal.sweep.run_sweep``,
   local process pool); ``speedup = t1 / t2``. The target is >= 1.7 on 2 free cores.
2. ``overhead``: ``--tiny-points`` tiny points (well under a second each) run back to back
   in this process (``load_experiment`` + ``trainer.run`` one after another) against the same
   points scheduled by ``run_sweep`` on one worker process (validating the sweep and starting
   the worker included; results/plots excluded). The order is serial, sweep, serial, and the
   sweep is compared with the mean of the two serial runs, so that a load that drifts during
   the measurement cancels to first order: ``overhead = t_sweep / mean(t_serial) - 1``. The
   same ratio is also given in CPU seconds (this process plus its reaped workers), which other
   jobs on the machine do not inflate. The target is < 5%.

    python bench/sweep_scaling.py                       # 8 scaling points, 100 tiny points
    python bench/sweep_scaling.py --points 4 --tiny-points 20 --json bench/sweep_scaling.json

Wall-clock timings: on a machine whose cores other jobs also use, the speed-up is bounded by
the free cores, so the script records the load average before and after each measurement.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml


def base_experiment(n_train: int, epochs: int, hidden: int) -> dict[str, Any]:
    """A synthetic spiking MLP; its cost grows with n_train * epochs * hidden."""
    return {
        "name": "bench", "seed": 0,
        "network": {"neuron": {"kind": "lif"}, "readout": {"output_scale": 4.0}, "weight_scale": 2.0,
                    "layers": [{"kind": "dense", "units": hidden}, {"kind": "dense", "units": 4}]},
        "data": {"dataset": "synthetic", "encoding": "rate", "steps": 8, "download": False,
                 "synthetic": {"n_train": n_train, "n_test": 128, "shape": [1, 8, 8], "classes": 4}},
        "training": {"epochs": epochs, "batch_size": 32, "lr": 1e-2, "progress": False, "time_chunk": 8,
                     "threads": 1},
    }


def write_sweep(folder: Path, name: str, base: dict[str, Any], points: int) -> Path:
    (folder / f"{name}_base.yaml").write_text(yaml.safe_dump(base))
    path = folder / f"{name}.yaml"
    path.write_text(f"base: {name}_base.yaml\ngrid:\n  seed: {list(range(points))}\n")
    return path


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its reaped children (the pool workers)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed_sweep(sweep: Path, out: Path, workers: int) -> float:
    from spikelocal.sweep import load_sweep, run_sweep

    t0 = time.perf_counter()
    spec = load_sweep(sweep)
    results = run_sweep(spec, out, workers=workers)
    seconds = time.perf_counter() - t0
    bad = [r for r in results if r["state"] != "finished"]
    if bad:
        raise RuntimeError(f"{len(bad)} points failed, e.g. {bad[0]['error']}")
    return seconds


def scaling(folder: Path, points: int, n_train: int, epochs: int) -> dict[str, Any]:
    sweep = write_sweep(folder, "scaling", base_experiment(n_train, epochs, 256), points)
    out: dict[str, Any] = {"points": points, "load_before": load()}
    for workers in (1, 2):
        c0 = cpu_seconds()
        out[f"seconds_{workers}_worker"] = timed_sweep(sweep, folder / f"scaling_w{workers}", workers)
        out[f"cpu_seconds_{workers}_worker"] = cpu_seconds() - c0
        out[f"load_after_{workers}_worker"] = load()
    out["speedup"] = out["seconds_1_worker"] / out["seconds_2_worker"]
    return out


def overhead(folder: Path, points: int) -> dict[str, Any]:
    import torch

    from spikelocal.config import load_experiment
    from spikelocal.sweep import load_sweep
    from spikelocal.trainer import run

    sweep = write_sweep(folder, "tiny", base_experiment(512, 3, 32), points)
    torch.set_num_threads(1)
    out: dict[str, Any] = {"points": points, "load_before": load()}
    spec = load_sweep(sweep)

    def serial(tag: str) -> tuple[float, float]:
        t0, c0 = time.perf_counter(), cpu_seconds()
        for point in spec.points:
            run(load_experiment(point.base, list(point.overrides)), folder / tag / point.name, progress=False)
        return time.perf_counter() - t0, cpu_seconds() - c0

    wall_a, cpu_a = serial("serial_a")
    out["load_after_serial_a"] = load()
    c0 = cpu_seconds()
    out["seconds_sweep_1_worker"] = timed_sweep(sweep, folder / "tiny_sweep", 1)
    out["cpu_seconds_sweep_1_worker"] = cpu_seconds() - c0
    out["load_after_sweep"] = load()
    wall_b, cpu_b = serial("serial_b")
    out["load_after_serial_b"] = load()
    out["seconds_back_to_back"] = [wall_a, wall_b]
    out["cpu_seconds_back_to_back"] = [cpu_a, cpu_b]
    out["overhead"] = out["seconds_sweep_1_worker"] / ((wall_a + wall_b) / 2) - 1
    out["overhead_cpu"] = out["cpu_seconds_sweep_1_worker"] / ((cpu_a + cpu_b) / 2) - 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=8, help="points of the scaling sweep")
    ap.add_argument("--n-train", type=int, default=2048, help="synthetic training samples per scaling point")
    ap.add_argument("--epochs", type=int, default=3, help="epochs per scaling point")
    ap.add_argument("--tiny-points", type=int, default=100, help="points of the overhead sweep (0: skip)")
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the JSON here")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="spikelocal-sweep-bench-"))
    result: dict[str, Any] = {"cores": os.cpu_count()}
    try:
        if not args.skip_scaling:
            result["scaling"] = scaling(folder, args.points, args.n_train, args.epochs)
        if args.tiny_points:
            result["overhead"] = overhead(folder, args.tiny_points)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
