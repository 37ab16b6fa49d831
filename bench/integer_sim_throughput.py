"""Throughput of the bit-accurate integer simulator against the float simulator.

Both run the same trained network on the same encoded batch with one thread:
the float side is ``spikelocal.core.network.simulate`` (what evaluation uses), the integer side
``spikelocal.hardware.simulate_integer`` (with and without overflow counting; its T is
longer by the pipeline drain of one step per layer, which is included in its time).

    python bench/integer_sim_throughput.py RUN_DIR [--batch 1000] [--repeats 5] [--bits 8] [--json PATH]

Prints one JSON line (also written to PATH with --json): samples per second of each and the
ratio integer / float (the target is >= 0.5). Timings are the best of the repeats.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    from spikelocal.data import load_dataset
    from spikelocal.hardware import load_target, quantize_network, simulate_integer
    from spikelocal.hardware.convert import calibration_stats
    from spikelocal.core.network import simulate
    from spikelocal.rundir import load_network
    from spikelocal.data import batch_generator, encode

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--bits", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", help="also write the result to this file")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    config, net = load_network(args.run_dir)
    data = load_dataset(config.data, config.seed)
    chunks = list(encode(config, data.test_x[:args.batch], batch_generator(config.seed, 0, 0)))
    spikes = torch.cat(chunks)
    int_net = quantize_network(net, load_target("loihi"), args.bits, stats=calibration_stats(net, spikes))
    spikes_np = spikes.numpy().astype(np.uint8)
    t_float = best_time(lambda: simulate(net, iter(chunks)), args.repeats)
    t_int = best_time(lambda: simulate_integer(int_net, spikes_np, check_overflow=False), args.repeats)
    t_int_chk = best_time(lambda: simulate_integer(int_net, spikes_np), args.repeats)
    n = spikes.shape[1]
    line = json.dumps({
        "run_dir": Path(args.run_dir).name, "batch": n, "steps": spikes.shape[0], "threads": args.threads,
        "layers": [layer.num_neurons for layer in int_net.layers],
        "float_samples_per_s": n / t_float, "integer_samples_per_s": n / t_int,
        "integer_checked_samples_per_s": n / t_int_chk,
        "ratio": t_float / t_int, "ratio_with_overflow_counts": t_float / t_int_chk,
    })
    print(line)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(line + "\n")


if __name__ == "__main__":
    main()
