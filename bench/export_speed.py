"""How long ``spikelocal export`` takes for a network of about a million synapses.

The aim is under 10 s a format. Without arguments this builds two networks, saves each
as a finished run directory (untrained weights: export time does not depend on their values)
and times ``spikelocal.export.export`` for every format, in-process, one thread:

* ``mlp``: dense LIF 784-1024-256-10 on [1, 28, 28] input (1,067,520 synapses);
* ``conv``: LIF conv 16c5p2 pool 2 -> conv 16c5p2 pool 2 -> dense 10 (1,343,712 synapses
  counted as connections: kernel taps that land inside the input; the Brian2 export writes
  each one, with the pooling of the layer below unfolded).

``--run RUN_DIR`` (repeatable) times the exports of existing run directories instead, e.g.
the full MNIST runs. ``--cli`` also times the command line (a fresh Python process: the
imports of torch, nir, brian2 are included). netx and cores include the calibration on 256
encoded training images and the quantisation of :mod:`spikelocal.hardware`, as the command
does. Prints one JSON object: per format the wall and CPU seconds (best of ``--repeats``; the
CPU time is what the export costs, the wall time adds the wait for a core on a busy machine),
and the load average before and after::

    nice -n 15 python bench/export_speed.py [--run RUN_DIR ...] [--cli] [--repeats 1]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

MLP_LAYERS = [{"kind": "dense", "units": 1024}, {"kind": "dense", "units": 256}, {"kind": "dense", "units": 10}]
CONV_LAYERS = [{"kind": "conv", "channels": 16, "kernel": 5, "padding": 2, "pool": 2},
               {"kind": "conv", "channels": 16, "kernel": 5, "padding": 2, "pool": 2},
               {"kind": "dense", "units": 10}]


def synthetic_run(path: Path, layers: list[dict]) -> Path:
    """A finished run directory of a spiking network on synthetic [1, 28, 28] data."""
    from spikelocal import rundir
    from spikelocal.checkpoint import save_checkpoint
    from spikelocal.config import resolve_experiment
    from spikelocal.core.network import Network

    cfg = resolve_experiment({
        "name": path.name, "seed": 0,
        "network": {"neuron": {"kind": "lif"}, "layers": layers},
        "data": {"dataset": "synthetic", "encoding": "rate", "steps": 25, "download": False,
                 "synthetic": {"shape": [1, 28, 28], "classes": 10, "n_train": 256, "n_test": 64}},
        "training": {"epochs": 1}, "rule": {"name": "local"},
    }, f"{path.name}.yaml", {}, Path.cwd())
    net = Network.from_config(cfg.network, (1, 28, 28), 10, 0)
    rundir.prepare_new(path, cfg)
    save_checkpoint(path / rundir.CHECKPOINT, {f"net.{k}": v for k, v in net.state_dict().items()}, {})
    rundir.write_status(path, "finished", 1)
    return path


def synapses(run_dir: Path) -> int:
    """Connections of the network: dense out*in; conv one per kernel tap that lands inside
    the (zero-padded) input, for every output position and channel pair."""
    from spikelocal.rundir import load_network

    _, net = load_network(run_dir)
    total = 0
    for layer in net.layers:
        if layer.kind == "dense":
            total += layer.weight.numel()
            continue
        c_out, c_in, k, _ = layer.weight.shape
        s, pad = layer.cfg.stride, layer.cfg.padding
        taps = 1
        for size, out in zip(layer.in_shape[1:], layer.out_shape[1:]):
            taps *= sum(1 for o in range(out) for j in range(k) if 0 <= o * s + j - pad < size)
        total += c_out * c_in * taps
    return total


_CLI = "import sys; from spikelocal.cli import main; sys.exit(main(sys.argv[1:]))"


def time_exports(run_dir: Path, out: Path, repeats: int, cli: bool) -> dict:
    """Best of ``repeats`` per format: wall seconds and CPU seconds (user + system of this
    process; on a shared machine the wall time also counts waiting for a core)."""
    from spikelocal.errors import SpikelocalError
    from spikelocal.export import FORMATS, export

    row: dict = {"run_dir": run_dir.name, "synapses": synapses(run_dir), "wall_s": {}, "cpu_s": {}, "refused": {}}
    for fmt in FORMATS:
        wall = cpu = float("inf")
        try:
            for r in range(repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                export(run_dir, fmt, out=out / f"{run_dir.name}.{r}.{fmt}")
                wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
        except SpikelocalError as exc:  # e.g. a layer that does not fit the target's cores
            row["refused"][fmt] = str(exc)
            continue
        row["wall_s"][fmt], row["cpu_s"][fmt] = round(wall, 3), round(cpu, 3)
    if cli:
        row["cli_wall_s"], row["cli_cpu_s"] = {}, {}
        for fmt in FORMATS:
            if fmt in row["refused"]:
                continue
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", _CLI, "export", str(run_dir), "--format", fmt,
                            "--out", str(out / f"{run_dir.name}.cli.{fmt}")], check=True, capture_output=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            row["cli_wall_s"][fmt] = round(time.perf_counter() - t0, 3)
            row["cli_cpu_s"][fmt] = round(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 3)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", action="append", type=Path, default=[], help="time this run directory instead")
    p.add_argument("--repeats", type=int, default=1, help="best of N in-process exports per format")
    p.add_argument("--cli", action="store_true", help="also time the command in a fresh process")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    result: dict = {"threads": args.threads, "cpus": os.cpu_count(), "load_before": os.getloadavg(), "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        runs = args.run or [synthetic_run(tmp_path / "mlp", MLP_LAYERS), synthetic_run(tmp_path / "conv", CONV_LAYERS)]
        for run_dir in runs:
            result["runs"].append(time_exports(run_dir, tmp_path, args.repeats, args.cli))
    result["load_after"] = os.getloadavg()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
