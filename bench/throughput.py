"""Training and inference throughput of the local rule against BPTT, with peak memory.

One network for every measurement: 784-500-500-10 current-based LIF (spikelocal's
``models/mlp_lif.yaml`` neuron: tau_syn 5 ms, tau_mem 10 ms, dt 1 ms, threshold 1, hard
reset, fast-sigmoid surrogate with slope 10, no bias), batch 128, rate-coded MNIST-shaped
input: when the MNIST files are found (``$SPIKELOCAL_DATA``, ./data or ../shared/data) the
first 128 training images, else random intensities with MNIST's mean (0.13); spikes are
Bernoulli draws of the intensity at every step either way (which input was used is in the
JSON). Measured, each in its own Python process so that the peak resident memory
(``getrusage(RUSAGE_SELF).ru_maxrss`` of that process) is its own:

- ``spikelocal / local``: ``LocalRule.compute_updates`` on the encoder's lazy chunks + Adam step.
- ``spikelocal / local_online``: the same rule with a loss per chunk (``rule.window`` = the
  chunk length) instead of the default loss on the whole sample's activity (``window:
  sample``). With T longer than the chunk, a sample-long window needs every chunk simulated
  twice (a forward pass for the window's mean activity, then the updating replay, the
  input held between them); a chunk-long window updates online, with memory flat in T. At
  T = chunk the two are the same rule.
- ``spikelocal / local_given_input``: the same with the input encoded once beforehand (the
  rule's own cost, for the roofline fraction; its memory includes the stored [T, B, 784] input).
- ``spikelocal / bp``: ``BPRule`` (BPTT through all chunks) + Adam step.
- ``snntorch / bptt``: ``nn.Linear`` + ``snn.Synaptic`` per layer with the same alpha, beta,
  threshold, reset-to-zero, fast-sigmoid slope and the same initial weights, stepped over
  time by hand, cross-entropy on the output spikes at every step, ``backward()``, Adam step;
  input from ``snntorch.spikegen.rate`` (the [T, B, 784] tensor snnTorch users build).
- ``spikelocal / inference``: ``spikelocal.core.network.simulate`` (what ``evaluate`` runs).
- ``spikelocal / integer_sim``: ``spikelocal.hardware.simulate_integer`` of the network
  quantised for Loihi (8-bit weights), input given as uint8 spikes [T, B, 784].
- ``roofline``: the dense matrix products of the local rule with a loss per chunk (each
  chunk simulated once), with its shapes (chunks of K steps: K*B rows) and operand layouts,
  timed alone; the sample-long window adds a forward pass at T > K, which the roofline does
  not count, so its fraction there is lower by that work.
  The local rule's arithmetic per sample and time step, counted as 2 flops per multiply-add::

      forward       2 (784*500 + 500*500 + 500*10)                   = 1,294,000
      weight update 2 (500*784 + 500*500 + 10*500)                   = 1,294,000
      readouts      2 (500*10 + 500*10 + 10*10) * 2 (G r, G^T e) / K =    40,400 / K
      total (K = 25)                                                 = 2,589,616 flops

  (the readout reads the chunk's mean activity, once per chunk). The roofline throughput is
  B / (time of those products per batch); a local-rule record's ``roofline_fraction`` is its
  samples/s over the roofline's (CPU-time based).

Before timing, the network is trained for 20 batches of the local rule (Adamax, lr 2e-3, as
``experiments/mnist_mlp_local.yaml``) so that its spike rates are those of a trained network
(an untrained one, with the default init, hardly spikes); every measurement starts from
those weights.

Times are wall-clock (``samples_per_s``) and process CPU time (``samples_per_cpu_s``): with
one thread on a shared machine the CPU-time figure is what an idle machine would give.

    python bench/throughput.py --json bench/results/throughput.json --steps 25,100,400
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

BATCH = 128
HIDDEN = 500
CLASSES = 10
INPUTS = 784
MNIST_MEAN = 0.1307
PRETRAIN_BATCHES = 20


def flops_per_sample_step(chunk: int) -> float:
    """The local rule's matrix-product arithmetic per sample and step (module docstring)."""
    synapses = INPUTS * HIDDEN + HIDDEN * HIDDEN + HIDDEN * CLASSES
    readouts = HIDDEN * CLASSES * 2 + CLASSES * CLASSES
    return 2 * synapses * 2 + 2 * readouts * 2 / chunk


# ---------------------------------------------------------------------------------------
# worker side: one measurement per process
# ---------------------------------------------------------------------------------------
def _network(weights: str | None = None):
    """The benchmark network; with ``weights``, the pre-trained state written by :func:`pretrain`."""
    import torch

    from spikelocal.config import NetworkConfig
    from spikelocal.core.network import Network

    cfg = NetworkConfig(neuron={"kind": "lif"}, layers=[
        {"kind": "dense", "units": HIDDEN}, {"kind": "dense", "units": HIDDEN},
        {"kind": "dense", "units": CLASSES}])
    net = Network.from_config(cfg, (INPUTS,), CLASSES, seed=0)
    if weights:
        net.load_state_dict(torch.load(weights))
    return net


def pretrain(path: str, chunk: int) -> dict[str, Any]:
    """Train the network briefly with the local rule so that it spikes like a trained one."""
    import torch

    from spikelocal.data import ENCODERS
    from spikelocal.rules import RULES

    net = _network()
    x, y, source = _images(BATCH * PRETRAIN_BATCHES)
    rule_cls = RULES.get("local")
    rule = rule_cls(net, rule_cls.Options(name="local"), seed=0)
    opt = torch.optim.Adamax(net.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(2)
    for i in range(PRETRAIN_BATCHES):
        sl = slice(i * BATCH, (i + 1) * BATCH)
        result = rule.compute_updates(ENCODERS.get("rate")(x[sl], 25, chunk, 1.0, gen), y[sl], [True] * 3)
        opt.step()
    torch.save(net.state_dict(), path)
    return {"input": source, "losses": result.losses}


def _images(batch: int):
    """Intensities in [0, 1] of shape [batch, 784] and labels; which source, as a string."""
    import torch

    from spikelocal.config import DataConfig
    from spikelocal.data import load_dataset, to_unit

    roots = [os.environ.get("SPIKELOCAL_DATA"), "data", str(Path(__file__).resolve().parents[2] / "shared" / "data")]
    for root in roots:
        if root and (Path(root) / "mnist").is_dir():
            try:
                data = load_dataset(DataConfig(dataset="mnist", root=root), 0)
            except Exception:  # noqa: BLE001 - any unreadable copy: try the next root
                continue
            x = to_unit(data.train_x[:batch]).reshape(batch, -1)
            return x, data.train_y[:batch].clone(), "mnist"
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((batch, INPUTS), generator=gen) * (2 * MNIST_MEAN)
    y = torch.randint(0, CLASSES, (batch,), generator=gen)
    return x, y, f"random intensities U(0, {2 * MNIST_MEAN:.3f})"


def _timed(step: Callable[[], Any], min_time: float, min_iters: int) -> dict[str, float]:
    step()  # warm-up: allocator, MKL buffers, autograd
    iters = 0
    w0, c0 = time.perf_counter(), time.process_time()
    while True:
        step()
        iters += 1
        wall = time.perf_counter() - w0
        if iters >= min_iters and wall >= min_time:
            break
    return {"iters": iters, "wall_s": wall, "cpu_s": time.process_time() - c0}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _spikelocal_train(rule_name: str, steps: int, chunk: int, x, y, weights: str):
    import torch

    from spikelocal.data import ENCODERS
    from spikelocal.rules import RULES

    net = _network(weights)
    given = rule_name == "local_given_input"  # the rule alone: input encoded once, beforehand
    if rule_name == "local_bf16":  # bf16 products, float32 state and updates
        net.set_precision(torch.bfloat16)
    name = "local" if given or rule_name in ("local_bf16", "local_online") else rule_name
    rule_cls = RULES.get(name)
    window = {"window": chunk} if rule_name == "local_online" else {}
    rule = rule_cls(net, rule_cls.Options(name=name, **window), seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(1)
    active = [True] * len(net.layers)
    encoder = ENCODERS.get("rate")
    encoded = list(encoder(x, steps, chunk, 1.0, gen)) if given else None
    counts: list[float] = []

    def step() -> None:
        chunks = iter(encoded) if encoded is not None else encoder(x, steps, chunk, 1.0, gen)
        result = rule.compute_updates(chunks, y, active)
        opt.step()
        counts[:] = [float(c.sum()) for c in result.spike_counts]

    return step, lambda: [c / (BATCH * steps * n) for c, n in zip(counts, (HIDDEN, HIDDEN, CLASSES))]


def _snntorch_train(steps: int, x, y, weights: str):
    import snntorch as snn
    import torch
    import torch.nn.functional as F
    from snntorch import spikegen, surrogate
    from torch import nn

    net = _network(weights)
    nrn = net.layers[0].neuron
    fcs = nn.ModuleList()
    lifs = nn.ModuleList()
    for layer in net.layers:
        out_f, in_f = layer.weight.shape
        fc = nn.Linear(in_f, out_f, bias=False)
        with torch.no_grad():
            fc.weight.copy_(layer.weight)
        fcs.append(fc)
        lifs.append(snn.Synaptic(alpha=nrn.alpha, beta=nrn.beta, threshold=nrn.threshold,
                                 spike_grad=surrogate.fast_sigmoid(slope=nrn.slope),
                                 reset_mechanism="zero", reset_delay=False))
    model = nn.ModuleList([fcs, lifs])
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    labels = y.repeat(steps)
    counts: list[float] = []

    def step() -> None:
        spk_in = spikegen.rate(x, num_steps=steps)
        opt.zero_grad()
        states = [lif.reset_mem() for lif in lifs]
        out = []
        for t in range(steps):
            h = spk_in[t]
            for i in range(3):
                h, syn, mem = lifs[i](fcs[i](h), *states[i])
                states[i] = (syn, mem)
            out.append(h)
        spikes = torch.stack(out)
        loss = F.cross_entropy(spikes.reshape(steps * BATCH, -1), labels)
        loss.backward()
        opt.step()
        counts[:] = [float(spikes.detach().sum())]

    return step, lambda: [None, None, counts[0] / (BATCH * steps * CLASSES)]  # hidden rates not tallied (no extra ops)


def _inference(steps: int, chunk: int, x, weights: str):
    import torch

    from spikelocal.data import ENCODERS
    from spikelocal.core.network import simulate

    net = _network(weights)
    gen = torch.Generator().manual_seed(1)
    encoder = ENCODERS.get("rate")
    counts: list[float] = []

    def step() -> None:
        result = simulate(net, encoder(x, steps, chunk, 1.0, gen))
        counts[:] = [float(c.sum()) for c in result.spike_counts]

    return step, lambda: [c / (BATCH * steps * n) for c, n in zip(counts, (HIDDEN, HIDDEN, CLASSES))]


def _integer_sim(steps: int, chunk: int, x, weights: str):
    import numpy as np
    import torch

    from spikelocal.data import ENCODERS
    from spikelocal.hardware import load_target, quantize_network, simulate_integer
    from spikelocal.hardware.convert import calibration_stats

    net = _network(weights)
    gen = torch.Generator().manual_seed(1)
    spikes = torch.cat(list(ENCODERS.get("rate")(x, steps, chunk, 1.0, gen)))
    int_net = quantize_network(net, load_target("loihi"), 8, stats=calibration_stats(net, spikes))
    spikes_np = spikes.numpy().astype(np.uint8)
    del spikes
    counts: list[float] = []

    def step() -> None:
        result = simulate_integer(int_net, spikes_np, check_overflow=False)
        counts[:] = [float(c.sum()) for c in result.counts]

    return step, lambda: [c / (BATCH * steps * n) for c, n in zip(counts, (HIDDEN, HIDDEN, CLASSES))]


def _roofline(chunk: int, min_time: float, precision: str = "fp32") -> dict[str, Any]:
    """Dense products of one chunk of the local rule, with its shapes and layouts, timed alone.

    ``bf16``: the same products on operands that are already bf16 (no conversions), the most
    that bf16 products could save; with the fp32 record it bounds bf16's speed-up of the
    whole step (the summary's ``local_bf16_over_fp32_bound``)."""
    import torch

    n = chunk * BATCH
    gen = torch.Generator().manual_seed(0)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    sizes = [(INPUTS, HIDDEN), (HIDDEN, HIDDEN), (HIDDEN, CLASSES)]
    weights = [torch.rand((o, i), generator=gen).to(dtype) for i, o in sizes]
    reads = [torch.rand((CLASSES, HIDDEN), generator=gen), torch.rand((CLASSES, HIDDEN), generator=gen),
             torch.eye(CLASSES)]
    reads = [r.to(dtype) for r in reads]
    inputs = [torch.rand((n, i), generator=gen).to(dtype) for i, _ in sizes]
    outs = [torch.rand((n, o), generator=gen).to(dtype) for _, o in sizes]
    grads = [torch.zeros_like(w) for w in weights]

    means = [a[:BATCH] for a in outs]

    def products() -> None:
        for w, g, r, inp, act, mean in zip(weights, grads, reads, inputs, outs, means):
            inp @ w.t()                   # synaptic current of K*B sample-steps
            logits = mean @ r.t()         # readout G r of the chunk's mean activity
            logits @ r                    # modulatory signal G^T e
            g += act.t() @ inp            # weight update delta^T P over K*B sample-steps

    timing = _timed(products, min_time, 5)
    per_chunk = timing["cpu_s"] / timing["iters"]
    per_chunk_wall = timing["wall_s"] / timing["iters"]
    fps = flops_per_sample_step(chunk)
    flops = fps * n
    return {"impl": "roofline", "rule": "local", "precision": precision, "T": None, "chunk": chunk,
            "flops_per_sample_step": fps,
            "gflops_cpu": flops / per_chunk / 1e9, "gflops_wall": flops / per_chunk_wall / 1e9,
            "sample_steps_per_cpu_s": n / per_chunk, "sample_steps_per_s": n / per_chunk_wall,
            "peak_rss_mb": _rss_mb()}


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    if spec["impl"] == "pretrain":
        return pretrain(spec["weights"], spec["chunk"])
    if spec["impl"] == "roofline":
        return _roofline(spec["chunk"], spec["min_time"], spec.get("precision", "fp32"))
    x, y, source = _images(BATCH)
    steps, chunk = spec["T"], spec["chunk"]
    w = spec["weights"]
    if spec["impl"] == "snntorch":
        step, rates = _snntorch_train(steps, x, y, w)
    elif spec["rule"] == "inference":
        step, rates = _inference(steps, chunk, x, w)
    elif spec["rule"] == "integer_sim":
        step, rates = _integer_sim(steps, chunk, x, w)
    else:
        step, rates = _spikelocal_train(spec["rule"], steps, chunk, x, y, w)
    base = _rss_mb()
    timing = _timed(step, spec["min_time"], spec["min_iters"])
    samples = BATCH * timing["iters"]
    return {"impl": spec["impl"], "rule": spec["rule"], "T": steps, "batch": BATCH,
            "samples_per_s": samples / timing["wall_s"], "samples_per_cpu_s": samples / timing["cpu_s"],
            "peak_rss_mb": _rss_mb(), "setup_rss_mb": base, "iters": timing["iters"],
            "chunk": chunk if spec["impl"] == "spikelocal" else None, "threads": spec["threads"],
            "input": source, "spike_rates": rates(), "loadavg": os.getloadavg()}


# ---------------------------------------------------------------------------------------
# driver side
# ---------------------------------------------------------------------------------------
def _run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"worker {spec} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _machine() -> dict[str, Any]:
    import platform

    import torch

    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "torch": torch.__version__,
            "loadavg_start": os.getloadavg()}


def _summarise(records: list[dict[str, Any]], steps: list[int]) -> dict[str, Any]:
    """Ratios within each repeat (same load), then their median over repeats."""
    repeats = sorted({r.get("repeat", 0) for r in records if r["impl"] != "roofline"})
    if len(repeats) > 1:
        per = [_summarise([r for r in records if r["impl"] == "roofline" or r.get("repeat", 0) == rep], steps)
               for rep in repeats]
        return {**_median(per), "repeats": len(repeats)}

    def find(impl: str, rule: str, t: int) -> dict[str, Any] | None:
        return next((r for r in records if r["impl"] == impl and r["rule"] == rule and r["T"] == t), None)

    out: dict[str, Any] = {}
    for t in steps:
        local, snn_ = find("spikelocal", "local", t), find("snntorch", "bptt", t)
        for rule in ("local", "local_online"):
            mine = find("spikelocal", rule, t)
            if mine and snn_:
                out[f"{rule}_over_snntorch_T{t}"] = {
                    "wall": mine["samples_per_s"] / snn_["samples_per_s"],
                    "cpu": mine["samples_per_cpu_s"] / snn_["samples_per_cpu_s"]}
        bf16 = find("spikelocal", "local_bf16", t)
        if local and bf16:
            out[f"local_bf16_over_fp32_T{t}"] = {
                "wall": bf16["samples_per_s"] / local["samples_per_s"],
                "cpu": bf16["samples_per_cpu_s"] / local["samples_per_cpu_s"]}
    for rule in ("local", "local_online"):
        lo, hi = find("spikelocal", rule, min(steps)), find("spikelocal", rule, max(steps))
        if lo and hi:
            out[f"{rule}_rss_growth_T{min(steps)}_to_T{max(steps)}"] = hi["peak_rss_mb"] / lo["peak_rss_mb"] - 1
    roofs = {r.get("precision", "fp32"): r for r in records if r["impl"] == "roofline"}
    if "fp32" in roofs and "bf16" in roofs:
        # products take the fraction f of an fp32 step (its roofline fraction); the rest does not
        # change with the precision, so bf16 products s times faster allow 1 / (1 - f + f / s)
        speed = roofs["bf16"]["sample_steps_per_cpu_s"] / roofs["fp32"]["sample_steps_per_cpu_s"]
        out["bf16_products_over_fp32"] = speed
        out["local_bf16_over_fp32_bound"] = {
            t: 1 / (1 - r["roofline_fraction"] + r["roofline_fraction"] / speed)
            for t in steps if (r := find("spikelocal", "local", t)) and "roofline_fraction" in r}
    roof = list(roofs.values())
    if roof:
        for rule in ("local", "local_online", "local_given_input"):
            out[f"{rule}_roofline_fraction_cpu"] = {
                t: r["roofline_fraction"] for t in steps if (r := find("spikelocal", rule, t))}
    return out


def _median(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of every number over the summaries of several repeats (same keys)."""
    first = summaries[0]
    if isinstance(first, dict):
        return {k: _median([s[k] for s in summaries if k in s]) for k in first}
    return statistics.median(summaries)


def _table(records: list[dict[str, Any]]) -> str:
    head = f"{'impl':<11} {'rule':<18} {'T':>4} {'samples/s':>10} {'samples/cpu-s':>13} {'peak RSS MB':>11} {'roofline':>8}"
    lines = [head, "-" * len(head)]
    for r in records:
        if r["impl"] == "roofline":
            lines.append(f"{'roofline':<11} {'local ' + r.get('precision', 'fp32'):<18} {'-':>4} "
                         f"{r['sample_steps_per_s']:>10.0f} {r['sample_steps_per_cpu_s']:>13.0f} "
                         f"{r['peak_rss_mb']:>11.0f} {'':>8}  sample-steps/s "
                         f"({r['gflops_cpu']:.0f} GFLOP/s, {r['flops_per_sample_step']:,.0f} flops/sample-step)")
            continue
        frac = f"{100 * r['roofline_fraction']:.0f}%" if "roofline_fraction" in r else ""
        lines.append(f"{r['impl']:<11} {r['rule']:<18} {r['T']:>4} {r['samples_per_s']:>10.1f} "
                     f"{r['samples_per_cpu_s']:>13.1f} {r['peak_rss_mb']:>11.0f} {frac:>8}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="write the records here")
    ap.add_argument("--steps", default="25,100,400", help="comma-separated sequence lengths T")
    ap.add_argument("--threads", type=int, default=1, help="torch threads in every worker")
    ap.add_argument("--chunk", type=int, default=25, help="spikelocal training.time_chunk")
    ap.add_argument("--min-time", type=float, default=3.0, help="seconds of timed work per measurement")
    ap.add_argument("--repeats", type=int, default=1,
                    help="measure every implementation this many times, interleaved; the summary is the median")
    ap.add_argument("--only", default="", help="comma-separated subset: local,local_online,local_bf16,local_given_input,bp,snntorch,inference,integer_sim")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    steps = [int(s) for s in args.steps.split(",") if s.strip()]
    only = {s for s in args.only.split(",") if s}
    wanted = [("spikelocal", "local"), ("spikelocal", "local_online"), ("spikelocal", "local_bf16"), ("spikelocal", "local_given_input"), ("spikelocal", "bp"),
              ("snntorch", "bptt"), ("spikelocal", "inference"), ("spikelocal", "integer_sim")]
    keys = {"local": "local", "local_online": "local_online", "local_bf16": "local_bf16", "local_given_input": "local_given_input", "bp": "bp", "bptt": "snntorch",
            "inference": "inference", "integer_sim": "integer_sim"}
    wanted = [w for w in wanted if not only or keys[w[1]] in only]
    machine = _machine()
    tmpdir = tempfile.TemporaryDirectory()
    common = {"threads": args.threads, "chunk": args.chunk, "min_time": args.min_time,
              "weights": str(Path(tmpdir.name) / "pretrained.pt")}
    pre = _run_worker({"impl": "pretrain", **common})
    records = [_run_worker({"impl": "roofline", **common})]
    if not only or "local_bf16" in only:
        records.append(_run_worker({"impl": "roofline", "precision": "bf16", **common}))
    roof = records[0]
    roof["machine"], roof["pretrain"] = machine, pre
    print(_table(records), flush=True)
    for repeat, t in ((rep, t) for rep in range(args.repeats) for t in steps):
        for impl, rule in wanted:  # interleaved so that load changes hit every implementation alike
            rec = _run_worker({"impl": impl, "rule": rule, "T": t, "min_iters": 2, **common})
            rec["repeat"] = repeat
            if rule in ("local", "local_online", "local_given_input"):
                rec["roofline_samples_per_cpu_s"] = roof["sample_steps_per_cpu_s"] / t
                rec["roofline_fraction"] = rec["samples_per_cpu_s"] / rec["roofline_samples_per_cpu_s"]
            records.append(rec)
            print(_table([rec]).splitlines()[-1], flush=True)
            if args.json:  # partial results survive an interrupted run
                _write(args.json, records)
    machine["loadavg_end"] = os.getloadavg()
    tmpdir.cleanup()
    summary = _summarise(records, steps)
    roof["summary"] = summary
    if args.json:  # a list of records; the roofline record carries the machine and the summary
        _write(args.json, records)  # before printing: a closed stdout (| head) loses nothing
    print()
    print(_table(records))
    print(json.dumps({"machine": machine, **summary}, indent=1))


def _write(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(records, indent=1))
    tmp.replace(path)


if __name__ == "__main__":
    main()
