"""Training throughput and peak memory of spiking conv nets: the local rule (fp32, bf16),
the same rule from another source tree (the baseline), and snnTorch BPTT, in one run.

Nets (rate-coded MNIST-shaped input 1x28x28, batch 128, T = 25 by default, current-based LIF
of ``models/conv_lif.yaml`` with the fast-sigmoid surrogate of slope 1 as the conv
experiments use, 2x2 sum pooling, a fixed random readout per hidden layer):

- ``k7_64_128``: conv 64 k7 -> pool -> conv 128 k7 -> pool -> dense 10 (the layout of the
  published reference implementation of local errors in conv spiking nets);
- ``k5_32_64_wide``: conv 32 k5 -> pool -> conv 64 k5 -> pool -> dense 500 -> dense 10, the
  layout of ``experiments/mnist_conv_wide_local.yaml`` (all LIF here, rate-coded input).

Every measurement runs in its own Python process (peak resident memory is
``getrusage(RUSAGE_SELF).ru_maxrss`` of that process) with ``--threads`` torch threads:

- ``spikelocal / local``: ``LocalRule.compute_updates`` on the encoder's chunks + Adam step,
  with the default memory budget; ``precision`` fp32 or bf16 (``training.precision``).
- ``baseline / local``: the same code path imported from ``--baseline-tree`` (a checkout of
  the commit before the conv work), same weights and input.
- ``snntorch / bptt``: ``nn.Conv2d``/``nn.Linear`` + ``snn.Synaptic`` with the same alpha,
  beta, threshold, reset, surrogate and initial weights, sum pooling, cross-entropy on the
  output spikes at every step, ``backward()``, Adam.
- ``roofline``: the rule's own products timed alone, per chunk: each layer's forward
  convolution (or matrix product) and its weight-update convolution over K*B sample-steps,
  in the layout and precision the rule uses. A record's ``roofline_fraction`` is its CPU-time
  samples/s over the roofline's.

Arithmetic per sample and step (2 flops a multiply-add, ``flops_per_sample_step`` in the
records): the local rule does each layer's forward and weight-update convolution; BPTT does
those and, above the first layer, the backward-data convolution as well (1.48x the local
rule's on ``k7_64_128``, whose second layer has 97 % of the work). The summary's
``<net>_<precision>_roofline_over_snntorch`` is the rule's convolutions timed alone over
snnTorch's training (its fastest repeat), per CPU-second: the most the local rule could lead
by in that precision on this machine.

Records are written as a JSON list (``impl, rule, net, precision, T, batch, samples_per_s,
peak_rss_mb, roofline_fraction`` and the machine load). ``--repeats`` interleaves the
implementations so that load changes hit them alike; ratios are taken within a repeat,
and the summary gives their median and range over repeats.

    python bench/conv_throughput.py --baseline-tree ../base --json bench/results/conv_throughput.json
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BATCH = 128
CLASSES = 10
NETS: dict[str, list[dict[str, Any]]] = {
    "k7_64_128": [{"kind": "conv", "channels": 64, "kernel": 7, "padding": 3, "pool": 2},
                  {"kind": "conv", "channels": 128, "kernel": 7, "padding": 3, "pool": 2},
                  {"kind": "dense", "units": CLASSES}],
    "k5_32_64_wide": [{"kind": "conv", "channels": 32, "kernel": 5, "padding": 2, "pool": 2},
                      {"kind": "conv", "channels": 64, "kernel": 5, "padding": 2, "pool": 2},
                      {"kind": "dense", "units": 500}, {"kind": "dense", "units": CLASSES}],
}
#: init scale so that an untrained net spikes at a few percent per step in every layer
WEIGHT_SCALE = 16.0


def _macs(layer) -> int:
    """Multiply-adds of one layer's forward product for one sample and step."""
    return layer.weight.numel() * (layer.out_shape[1] * layer.out_shape[2] if layer.kind == "conv" else 1)


def flops_per_sample_step(net: str, rule: str) -> float:
    """The rule's product arithmetic per sample and step: forward + weight update, and for
    BPTT the backward-data product of every layer but the first (its input needs no gradient)."""
    layers = _network(net).layers
    total = sum(2 * 2 * _macs(layer) for layer in layers)
    if rule == "bptt":
        total += sum(2 * _macs(layer) for layer in layers[1:])
    return float(total)


def _network(net: str):
    from spikelocal.config import NetworkConfig
    from spikelocal.core.network import Network

    cfg = NetworkConfig(neuron={"kind": "lif", "surrogate": {"kind": "fast_sigmoid", "slope": 1}},
                        layers=NETS[net], weight_scale=WEIGHT_SCALE)
    return Network.from_config(cfg, (1, 28, 28), CLASSES, seed=0)


def _input():
    import torch

    gen = torch.Generator().manual_seed(0)
    x = torch.rand((BATCH, 1, 28, 28), generator=gen) * 0.5
    return x, torch.randint(0, CLASSES, (BATCH,), generator=gen)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(step, iters: int) -> dict[str, float]:
    step()  # warm-up: allocator, oneDNN primitives, numba
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(iters):  # best of N: the load of a shared machine only ever slows a run
        w0, c0 = time.perf_counter(), time.process_time()
        step()
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return {"wall_s": best_wall, "cpu_s": best_cpu}


def _local(spec: dict[str, Any]):
    import torch

    from spikelocal.data import ENCODERS
    from spikelocal.rules import RULES

    net = _network(spec["net"])
    if spec["precision"] == "bf16":
        net.set_precision(torch.bfloat16)
    rule_cls = RULES.get("local")
    rule = rule_cls(net, rule_cls.Options(name="local", loss="mse"), seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    x, y = _input()
    gen = torch.Generator().manual_seed(1)
    rates: list[float] = []

    def step() -> None:
        result = rule.compute_updates(ENCODERS.get("rate")(x, spec["T"], spec["chunk"], 1.0, gen), y,
                                      [True] * len(net.layers))
        opt.step()
        rates[:] = [float(c.sum()) / (BATCH * spec["T"] * layer.num_neurons)
                    for c, layer in zip(result.spike_counts, net.layers)]
    return step, rates


def _snntorch(spec: dict[str, Any]):
    import snntorch as snn
    import torch
    import torch.nn.functional as F
    from snntorch import spikegen, surrogate
    from torch import nn

    net = _network(spec["net"])
    nrn = net.layers[0].neuron
    mods = nn.ModuleList()
    for layer in net.layers:
        if layer.kind == "conv":
            m = nn.Conv2d(layer.in_shape[0], layer.cfg.channels, layer.cfg.kernel, padding=layer.cfg.padding, bias=False)
        else:
            m = nn.Linear(layer.weight.shape[1], layer.weight.shape[0], bias=False)
        with torch.no_grad():
            m.weight.copy_(layer.weight)
        mods.append(m)
    lifs = nn.ModuleList(snn.Synaptic(alpha=nrn.alpha, beta=nrn.beta, threshold=nrn.threshold,
                                      spike_grad=surrogate.fast_sigmoid(slope=nrn.slope),
                                      reset_mechanism="zero", reset_delay=False) for _ in net.layers)
    model = nn.ModuleList([mods, lifs])
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x, y = _input()
    steps = spec["T"]
    labels = y.repeat(steps)
    rates: list[float] = []

    def step() -> None:
        spk_in = spikegen.rate(x, num_steps=steps)
        opt.zero_grad()
        states = [lif.reset_mem() for lif in lifs]
        out = []
        for t in range(steps):
            h = spk_in[t]
            for i, (layer, m) in enumerate(zip(net.layers, mods)):
                if layer.kind == "dense":
                    h = h.flatten(1)
                h, syn, mem = lifs[i](m(h), *states[i])
                states[i] = (syn, mem)
                if layer.kind == "conv":
                    h = F.avg_pool2d(h, 2) * 4
            out.append(h)
        spikes = torch.stack(out)
        F.cross_entropy(spikes.reshape(steps * BATCH, -1), labels).backward()
        opt.step()
        rates[:] = [float(spikes.detach().sum()) / (BATCH * steps * CLASSES)]
    return step, rates


def _roofline(spec: dict[str, Any]) -> dict[str, Any]:
    """The rule's convolutions and products of one chunk, in its layout and precision, alone."""
    import torch

    net = _network(spec["net"])
    if spec["precision"] == "bf16":
        net.set_precision(torch.bfloat16)
    n = spec["chunk"] * min(BATCH, spec.get("sub_batch") or BATCH)
    gen = torch.Generator().manual_seed(0)
    ops = []
    for layer in net.layers:
        x = (torch.rand((n, *layer.in_shape), generator=gen) < 0.05).float()
        d = torch.randn((n, *layer.out_shape), generator=gen)
        ops.append((layer, x, d))
    flops = flops_per_sample_step(spec["net"], "local")

    def products() -> None:
        for layer, x, d in ops:
            layer.synapse(x)
            layer.weight_grad(x, d)
    t = _timed(products, 3)
    return {"impl": "roofline", "rule": "local", "net": spec["net"], "precision": spec["precision"],
            "T": None, "batch": BATCH, "chunk_rows": n, "flops_per_sample_step": flops,
            "gflops_cpu": flops * n / t["cpu_s"] / 1e9, "gflops_wall": flops * n / t["wall_s"] / 1e9,
            "sample_steps_per_cpu_s": n / t["cpu_s"], "sample_steps_per_s": n / t["wall_s"],
            "peak_rss_mb": _rss_mb()}


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    if spec["impl"] == "roofline":
        return _roofline(spec)
    step, rates = _snntorch(spec) if spec["impl"] == "snntorch" else _local(spec)
    sub = None
    if spec["impl"] == "spikelocal":
        from spikelocal.core import memory
        sub = memory.sub_batch(_network(spec["net"]).layers, spec["chunk"], BATCH, memory.DEFAULT_BUDGET_MB)
    t = _timed(step, spec["iters"])
    flops = flops_per_sample_step(spec["net"], spec["rule"])
    return {"impl": spec["impl"], "rule": spec["rule"], "net": spec["net"], "precision": spec["precision"],
            "T": spec["T"], "batch": BATCH, "chunk": spec["chunk"], "sub_batch": sub,
            "samples_per_s": BATCH / t["wall_s"], "samples_per_cpu_s": BATCH / t["cpu_s"],
            "cpu_per_wall": t["cpu_s"] / t["wall_s"], "peak_rss_mb": _rss_mb(), "threads": spec["threads"],
            "spike_rates": rates, "loadavg": os.getloadavg(), "repeat": spec["repeat"],
            "flops_per_sample_step": flops, "gflops_cpu": flops * BATCH * spec["T"] / t["cpu_s"] / 1e9}


def _run(spec: dict[str, Any], tree: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": tree}
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"worker {spec} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _line(r: dict[str, Any]) -> str:
    if r["impl"] == "roofline":
        return (f"{'roofline':<10} {r['net']:<14} {r['precision']:<5} {'':>4} {r['sample_steps_per_cpu_s'] / 25:>9.1f}"
                f" {'':>9} {r['peak_rss_mb']:>8.0f}  ({r['gflops_cpu']:.0f} GFLOP/s cpu, /25 steps)")
    frac = f"{100 * r['roofline_fraction']:.0f}%" if r.get("roofline_fraction") else ""
    return (f"{r['impl']:<10} {r['net']:<14} {r['precision']:<5} {r['T']:>4} {r['samples_per_cpu_s']:>9.1f}"
            f" {r['samples_per_s']:>9.1f} {r['peak_rss_mb']:>8.0f} {frac:>6}  load {r['loadavg'][0]:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path)
    ap.add_argument("--nets", default=",".join(NETS))
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--chunk", type=int, default=25, help="training.time_chunk")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=2, help="timed batches per measurement (best of)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--baseline-tree", help="source tree of the code before the change (PYTHONPATH)")
    ap.add_argument("--only", default="", help="subset of: local,baseline,snntorch,roofline")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    here = str(Path(__file__).resolve().parents[1])
    only = {s for s in args.only.split(",") if s}
    common = {"T": args.steps, "chunk": args.chunk, "threads": args.threads, "iters": args.iters, "rule": "local"}
    plan: list[tuple[dict[str, Any], str]] = []
    for net in args.nets.split(","):
        for prec in ("fp32", "bf16"):
            if not only or "local" in only:
                plan.append(({"impl": "spikelocal", "net": net, "precision": prec}, here))
            if args.baseline_tree and (not only or "baseline" in only):
                plan.append(({"impl": "baseline", "net": net, "precision": prec}, args.baseline_tree))
        if not only or "snntorch" in only:
            plan.append(({"impl": "snntorch", "net": net, "precision": "fp32", "rule": "bptt"}, here))
    records: list[dict[str, Any]] = []
    roofs: dict[tuple[str, str], dict[str, Any]] = {}
    if not only or "roofline" in only:
        for net in args.nets.split(","):
            for prec in ("fp32", "bf16"):
                from spikelocal.core import memory  # noqa: PLC0415 - the driver's own tree
                spec = {**common, "impl": "roofline", "net": net, "precision": prec, "repeat": 0}
                spec["sub_batch"] = memory.sub_batch(_layers(net), args.chunk, BATCH, memory.DEFAULT_BUDGET_MB)
                roofs[net, prec] = _run(spec, here)
                records.append(roofs[net, prec])
                print(_line(roofs[net, prec]), flush=True)
    for repeat in range(args.repeats):
        for spec, tree in plan:
            rec = _run({**common, **spec, "repeat": repeat}, tree)
            roof = roofs.get((rec["net"], rec["precision"]))
            if roof and rec["impl"] != "snntorch":
                rec["roofline_samples_per_cpu_s"] = roof["sample_steps_per_cpu_s"] / rec["T"]
                rec["roofline_fraction"] = rec["samples_per_cpu_s"] / rec["roofline_samples_per_cpu_s"]
            records.append(rec)
            print(_line(rec), flush=True)
            if args.json:
                _write(args.json, records)
    summary = _summary(records)
    records.append({"impl": "summary", "machine": {"cores": os.cpu_count(), "loadavg_end": os.getloadavg()},
                    **summary})
    if args.json:
        _write(args.json, records)
    print(json.dumps(summary, indent=1))


def _layers(net: str):
    return _network(net).layers


def _summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Ratios within each repeat (same load), then their median over repeats (``_range``:
    the lowest and highest; a shared machine's load moves single measurements by 20 %)."""
    out: dict[str, Any] = {}

    def get(impl: str, net: str, prec: str, rep: int):
        return next((r for r in records if r["impl"] == impl and r.get("net") == net
                     and r.get("precision") == prec and r.get("repeat") == rep), None)
    reps = sorted({r["repeat"] for r in records if "repeat" in r and r["impl"] != "roofline"})
    for net in NETS:
        for prec in ("fp32", "bf16"):
            for other, key in (("baseline", "over_baseline"), ("snntorch", "over_snntorch")):
                ratios = []
                for rep in reps:
                    new = get("spikelocal", net, prec, rep)
                    old = get(other, net, prec if other == "baseline" else "fp32", rep)
                    if new and old:
                        ratios.append(new["samples_per_s"] / old["samples_per_s"])
                if ratios:
                    out[f"{net}_{prec}_{key}"] = statistics.median(ratios)
                    out[f"{net}_{prec}_{key}_range"] = [min(ratios), max(ratios)]
            ratios = []
            for rep in reps:
                new, old = get("spikelocal", net, prec, rep), get("baseline", net, "fp32", rep)
                if new and old:
                    ratios.append(new["samples_per_s"] / old["samples_per_s"])
            if ratios:
                out[f"{net}_{prec}_over_baseline_fp32"] = statistics.median(ratios)
        bptt = [r for r in records if r["impl"] == "snntorch" and r.get("net") == net]
        for prec in ("fp32", "bf16"):
            roof = next((r for r in records if r["impl"] == "roofline" and r["net"] == net
                         and r["precision"] == prec), None)
            if roof and bptt:  # against snnTorch's fastest repeat: the lead can only be smaller
                best = max(r["samples_per_cpu_s"] for r in bptt)
                out[f"{net}_{prec}_roofline_over_snntorch"] = roof["sample_steps_per_cpu_s"] / bptt[0]["T"] / best
    return out


def _write(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(records, indent=1))
    tmp.replace(path)


if __name__ == "__main__":
    main()
