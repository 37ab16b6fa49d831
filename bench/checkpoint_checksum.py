"""Time added by the checkpoint checksum: save and load of a 784-500-500-10 network's state.

The state is what a run of experiments/mnist_mlp_local.yaml saves: the weights and biases,
the fixed readouts and two Adam moments per trained tensor. Each figure is the median of
``--repeat`` saves (or loads) with the checksum (``spikelocal.checkpoint``) and without it
(plain ``safetensors`` calls on the same tensors; the save with checksum also pays the fsync
and rename that make it atomic), and the SHA-256 alone.

    python bench/checkpoint_checksum.py --repeat 20
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from spikelocal.checkpoint import checksum, load_checkpoint, save_checkpoint


def state(sizes=(784, 500, 500, 10), classes: int = 10) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    tensors = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        for kind, shape in (("weight", (n_out, n_in)), ("bias", (n_out,)), ("readout", (classes, n_out))):
            tensors[f"net.layers.{i}.{kind}"] = torch.randn(*shape, generator=gen)
            if kind != "readout":
                for moment in ("exp_avg", "exp_avg_sq"):
                    tensors[f"opt.{i}.{kind}.{moment}"] = torch.randn(*shape, generator=gen)
    return tensors


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    tensors = state()
    meta = {"epoch": 1}
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "a.safetensors", Path(tmp) / "b.safetensors"
        save_checkpoint(a, tensors, meta)
        save_file(tensors, str(b), metadata={"spikelocal": json.dumps(meta)})
        figures = {
            "megabytes": round(a.stat().st_size / 1e6, 2),
            "save_ms_with_checksum": 1e3 * median_seconds(lambda: save_checkpoint(a, tensors, meta), args.repeat),
            "save_ms_plain": 1e3 * median_seconds(lambda: save_file(tensors, str(b)), args.repeat),
            "load_ms_with_checksum": 1e3 * median_seconds(lambda: load_checkpoint(a), args.repeat),
            "load_ms_plain": 1e3 * median_seconds(lambda: load_file(str(b)), args.repeat),
            "checksum_alone_ms": 1e3 * median_seconds(lambda: checksum(tensors, json.dumps(meta)), args.repeat),
        }
    print(json.dumps({k: round(v, 2) for k, v in figures.items()}, indent=2))


if __name__ == "__main__":
    main()
