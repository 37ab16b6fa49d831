"""Memory and speed of e-prop against BPTT on one recurrent network as the sequence grows.

The network of ``experiments/cue_accumulation_eprop.yaml`` (40 inputs -> 100 recurrent ALIF
without self-connections -> 2 linear readout units), batch 64, Bernoulli input spikes with
probability 0.1 per step and input, random labels. Both rules score windows of 100 steps
(``window: 100``) and simulate in chunks of 100 steps (``training.time_chunk``), so they do
the same forward work; e-prop keeps only the chunk and its forward eligibility traces, BPTT
keeps the autograd graph of the whole sequence.

Each (rule, T) runs in its own Python process, so that the peak resident memory
(``getrusage(RUSAGE_SELF).ru_maxrss``) is its own: one warm-up batch, then ``--batches``
timed batches of ``compute_updates`` + Adam step, one thread. Writes
``bench/results/eprop_memory.json``::

    python bench/eprop_memory.py                  # T = 100 and 1000, e-prop and BPTT
    python bench/eprop_memory.py --steps 100 300 1000 --batches 3
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "eprop_memory.json"


def one(rule: str, steps: int, batches: int, batch: int) -> dict:
    import torch

    from spikelocal import rules
    from spikelocal.config import load_experiment
    from spikelocal.core import Network

    torch.set_num_threads(1)
    cfg = load_experiment(ROOT / "experiments" / "cue_accumulation_eprop.yaml")
    net = Network.from_config(cfg.network, (40,), 2, 0)
    options = {"name": rule, "window": 100, **({"feedback": "random"} if rule == "eprop" else {})}
    learner = rules.build(options, net)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(steps, batch, 40, generator=gen) < 0.1).float()
    y = torch.randint(0, 2, (batch,), generator=gen)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for i in range(batches + 1):
        t0 = time.perf_counter()
        learner.step(torch.split(x, 100), y)
        opt.step()
        if i:
            times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"rule": rule, "steps": steps, "batch": batch, "peak_rss_mb": peak / 1024,
            "rss_before_training_mb": base / 1024, "seconds_per_batch": min(times),
            "samples_per_s": batch / min(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--batches", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--one", nargs=2, metavar=("RULE", "T"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), args.batches, args.batch)))
        return
    records = []
    for rule in ("eprop", "bp"):
        for steps in args.steps:
            out = subprocess.run([sys.executable, __file__, "--one", rule, str(steps), "--batches",
                                  str(args.batches), "--batch", str(args.batch)],
                                 capture_output=True, text=True, check=True, cwd=ROOT)
            records.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(records[-1])
    lo, hi = min(args.steps), max(args.steps)
    by = {(r["rule"], r["steps"]): r for r in records}
    summary = {
        "eprop_peak_rss_growth": by["eprop", hi]["peak_rss_mb"] / by["eprop", lo]["peak_rss_mb"] - 1,
        "bptt_peak_rss_growth": by["bp", hi]["peak_rss_mb"] / by["bp", lo]["peak_rss_mb"] - 1,
        f"eprop_over_bptt_samples_per_s_at_T{hi}": by["eprop", hi]["samples_per_s"] / by["bp", hi]["samples_per_s"],
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"records": records, "summary": summary, "machine": platform.platform(),
                                   "python": platform.python_version(), "command": "python bench/eprop_memory.py "
                                   + " ".join(sys.argv[1:])}, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
