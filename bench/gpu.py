"""spikelocal's local rule against snnTorch BPTT on one device, in one run: samples/s and peak
memory of a training step, in fp32 and bf16.

    python bench/gpu.py                          # the GPU, full sizes (under 8 minutes on an H100)
    python bench/gpu.py --device cpu --tiny      # a check of the script itself, a few seconds
    python bench/gpu.py --device cpu --cases mlp_T25 --batches 3    # CPU: bf16 (AMX) vs fp32

Cases (the network is built from spikelocal's config, snnTorch's copy gets the same shapes,
alpha, beta, threshold, hard reset and fast-sigmoid slope; both sides start from the same
weights):

- ``one_layer``: the open-neuromorphic shape, a Linear 16384 -> 16384 + LIF layer, batch 16,
  T = 500, forward and backward. spikelocal's output layer needs one neuron per class, so
  both sides end in a 10-neuron LIF layer (0.06 % of the work) scored by cross-entropy on
  the spike count; the 16k layer is the workload.
- ``mlp_T25`` / ``mlp_T400``: the spiking MLP 784-500-500-10, batch 128, T = 25 and 400.
- ``conv_wide``: ``experiments/mnist_conv_wide_local.yaml``'s net (conv 32 and 64 channels,
  5x5, 2x2 sum pooling, dense 500, linear output), direct input current, batch 100, T = 10.

One training step is: spikelocal, ``LocalRule.compute_updates`` on the rate encoder's lazy
chunks drawn on the device (``training.time_chunk`` K steps per batched product) + Adam;
snnTorch, the usual loop over time (``nn.Linear``/``nn.Conv2d`` + ``snn.Synaptic`` per
layer, input spikes drawn per step on the device), cross-entropy on the output spike count,
``backward()`` (BPTT) + Adam. bf16: spikelocal's ``training.precision: bf16`` (bf16 products,
fp32 state and updates); snnTorch under ``torch.autocast(dtype=torch.bfloat16)``. Peak memory
is ``torch.cuda.max_memory_allocated`` over the timed steps (null on the CPU). Norse is
measured when it imports (its wheel pins another torch; it is recorded as absent otherwise).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from spikelocal.config import LayerConfig, NetworkConfig, NeuronConfig
from spikelocal.core.network import Network
from spikelocal.data import ENCODERS
from spikelocal.devices import compute_dtype, peak_memory, resolve_device, synchronize
from spikelocal.rules import build

CLASSES = 10
MEAN_INTENSITY = 0.13

# name: (layers, input shape, batch, steps, time chunk, encoding)
CASES: dict[str, tuple[list[dict], tuple[int, ...], int, int, int, str]] = {
    "one_layer": ([{"kind": "dense", "units": 16384}, {"kind": "dense", "units": 10}], (16384,), 16, 500, 50, "rate"),
    "mlp_T25": ([{"kind": "dense", "units": 500}] * 2 + [{"kind": "dense", "units": 10}], (784,), 128, 25, 25, "rate"),
    "mlp_T400": ([{"kind": "dense", "units": 500}] * 2 + [{"kind": "dense", "units": 10}], (784,), 128, 400, 25, "rate"),
    "conv_wide": ([{"kind": "conv", "channels": 32, "kernel": 5, "padding": 2, "pool": 2},
                   {"kind": "conv", "channels": 64, "kernel": 5, "padding": 2, "pool": 2},
                   {"kind": "dense", "units": 500}, {"kind": "dense", "units": 10}], (1, 28, 28), 100, 10, 10, "direct"),
}
TINY: dict[str, tuple[list[dict], tuple[int, ...], int, int, int, str]] = {
    "one_layer": ([{"kind": "dense", "units": 256}, {"kind": "dense", "units": 10}], (256,), 4, 20, 10, "rate"),
    "mlp_T25": ([{"kind": "dense", "units": 32}] * 2 + [{"kind": "dense", "units": 10}], (64,), 8, 10, 5, "rate"),
    "mlp_T400": ([{"kind": "dense", "units": 32}] * 2 + [{"kind": "dense", "units": 10}], (64,), 8, 40, 5, "rate"),
    "conv_wide": ([{"kind": "conv", "channels": 4, "kernel": 5, "padding": 2, "pool": 2},
                   {"kind": "dense", "units": 16}, {"kind": "dense", "units": 10}], (1, 8, 8), 4, 6, 3, "direct"),
}


def build_network(layers: list[dict], shape: tuple[int, ...], conv_output_linear: bool) -> Network:
    neuron = NeuronConfig(kind="lif", surrogate={"kind": "fast_sigmoid", "slope": 10.0})
    cfg = NetworkConfig(neuron=neuron, layers=[LayerConfig(**spec) for spec in layers], weight_scale=5.0,
                        output_neuron=NeuronConfig(kind="linear") if conv_output_linear else None)
    return Network.from_config(cfg, shape, CLASSES, seed=0)


# ------------------------------------------------------------------------- spikelocal --
def spikelocal_step(net: Network, encoding: str, steps: int, chunk: int) -> Callable[[Tensor, Tensor, int], None]:
    rule = build("local", net)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    encoder = ENCODERS.get(encoding)
    active = [True] * len(net.layers)

    def step(x: Tensor, y: Tensor, i: int) -> None:
        gen = torch.Generator().manual_seed(i)
        rule.compute_updates(encoder(x, steps, chunk, 1.0, gen), y, active)
        opt.step()

    return step


# --------------------------------------------------------------------------- snnTorch --
class SnnTorchNet(nn.Module):
    """The same layers in snnTorch: Linear/Conv2d + Synaptic, sum pooling, stepped by hand."""

    def __init__(self, net: Network) -> None:
        import snntorch as snn
        from snntorch import surrogate

        super().__init__()
        self.synapses = nn.ModuleList()
        self.neurons = nn.ModuleList()
        self.pools = [layer.cfg.pool if layer.kind == "conv" else 1 for layer in net.layers]
        self.linear_out = not net.layers[-1].neuron.spiking
        for layer in net.layers:
            if layer.kind == "conv":
                syn = nn.Conv2d(layer.in_shape[0], layer.cfg.channels, layer.cfg.kernel,
                                padding=layer.cfg.padding, bias=False)
            else:
                syn = nn.Linear(math.prod(layer.in_shape), layer.out_shape[0], bias=False)
            with torch.no_grad():
                syn.weight.copy_(layer.weight)
            self.synapses.append(syn)
            nrn = layer.neuron if layer.neuron.spiking else net.layers[0].neuron
            self.neurons.append(snn.Synaptic(alpha=nrn.alpha, beta=nrn.beta, threshold=nrn.threshold,
                                             spike_grad=surrogate.fast_sigmoid(slope=10.0),
                                             reset_mechanism="zero"))

    def forward(self, inputs: Callable[[int], Tensor], steps: int) -> Tensor:
        """Spike count (or summed linear output) of the last layer over ``steps`` steps."""
        states = [neuron.reset_mem() for neuron in self.neurons]
        total = None
        last = len(self.synapses) - 1
        for t in range(steps):
            h = inputs(t)
            for i, (syn, neuron) in enumerate(zip(self.synapses, self.neurons)):
                if isinstance(syn, nn.Linear):
                    h = h.flatten(1)
                current = syn(h)
                if i == last and self.linear_out:
                    h = current
                    break
                h, s, m = neuron(current, *states[i])
                states[i] = (s, m)
                if self.pools[i] > 1:
                    h = F.avg_pool2d(h, self.pools[i]) * self.pools[i] ** 2
            total = h if total is None else total + h
        return total


def snntorch_step(net: Network, encoding: str, steps: int, device: torch.device,
                  dtype: torch.dtype | None) -> Callable[[Tensor, Tensor, int], None]:
    model = SnnTorchNet(net).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(x: Tensor, y: Tensor, i: int) -> None:
        gen = torch.Generator(device=device).manual_seed(i)
        if encoding == "rate":
            def inputs(t: int) -> Tensor:
                return (torch.rand(x.shape, generator=gen, device=device) < x).float()
        else:
            def inputs(t: int) -> Tensor:
                return x
        opt.zero_grad(set_to_none=True)
        autocast = (torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext())
        with autocast:
            counts = model(inputs, steps)
        loss = F.cross_entropy(counts.float() / steps, y)
        loss.backward()
        opt.step()

    return step


# -------------------------------------------------------------------------- timing ------
def measure(step: Callable[[Tensor, Tensor, int], None], x: Tensor, y: Tensor, device: torch.device,
            warmup: int, batches: int) -> dict[str, Any]:
    for i in range(warmup):      # includes torch.compile of the fused LIF on a GPU
        step(x, y, i)
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    for i in range(batches):
        step(x, y, warmup + i)
    synchronize(device)
    seconds = time.perf_counter() - t0
    return {"samples_per_s": batches * x.shape[0] / seconds, "seconds": seconds,
            "peak_memory_bytes": peak_memory(device)}


def run_case(name: str, spec, device: torch.device, precision: str, warmup: int, batches: int,
             snntorch: bool) -> list[dict[str, Any]]:
    layers, shape, batch, steps, chunk, encoding = spec
    torch.manual_seed(0)
    x = (torch.rand(batch, *shape, device=device) * 2 * MEAN_INTENSITY).clamp_(0, 1)
    y = torch.randint(0, CLASSES, (batch,), device=device)
    rows = []
    net = build_network(layers, shape, conv_output_linear=name.startswith("conv")).to(device)
    net.set_precision(compute_dtype(precision))
    common = {"case": name, "precision": precision, "batch": batch, "steps": steps, "time_chunk": chunk,
              "layers": [layer.num_neurons for layer in net.layers], "input_shape": list(shape)}
    rows.append({**common, "impl": "spikelocal_local",
                 **measure(spikelocal_step(net, encoding, steps, chunk), x, y, device, warmup, batches)})
    del net
    if snntorch:
        net = build_network(layers, shape, conv_output_linear=name.startswith("conv"))
        step = snntorch_step(net, encoding, steps, device, compute_dtype(precision))
        rows.append({**common, "impl": "snntorch_bptt", **measure(step, x, y, device, warmup, batches)})
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Speed-ups of the local rule over snnTorch BPTT, and bf16 over fp32, per case."""
    by = {(r["case"], r["precision"], r["impl"]): r["samples_per_s"] for r in rows}
    out: dict[str, Any] = {"local_over_snntorch": {}, "bf16_over_fp32": {}}
    for (case, precision, impl), speed in by.items():
        if impl == "spikelocal_local" and (case, precision, "snntorch_bptt") in by:
            out["local_over_snntorch"][f"{case}/{precision}"] = speed / by[(case, precision, "snntorch_bptt")]
        if precision == "bf16" and (case, "fp32", impl) in by:
            out["bf16_over_fp32"][f"{case}/{impl}"] = speed / by[(case, "fp32", impl)]
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    ap.add_argument("--tiny", action="store_true", help="tiny sizes (a check of the script, seconds)")
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {', '.join(CASES)}")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--batches", type=int, default=5, help="timed training steps per measurement")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--no-snntorch", action="store_true", help="only spikelocal")
    ap.add_argument("--json", type=Path, help="default bench/results/gpu_<device>.json")
    args = ap.parse_args(argv)
    device = resolve_device(args.device, "--device")
    table = TINY if args.tiny else CASES
    names = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in names if c not in table]
    if unknown:
        ap.error(f"--cases: unknown {', '.join(unknown)}; known: {', '.join(table)}")
    snntorch = not args.no_snntorch
    if snntorch:
        try:
            import snntorch as _  # noqa: F401
        except ImportError:
            snntorch = False
    try:
        import norse  # noqa: F401
        norse_status = f"norse {norse.__version__} imports; not measured by this script"
    except Exception as exc:  # noqa: BLE001 - a missing or broken wheel: record why
        norse_status = f"not measured: {type(exc).__name__}: {exc}"
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for name in names:
        for precision in [p.strip() for p in args.precisions.split(",") if p.strip()]:
            for row in run_case(name, table[name], device, precision, args.warmup, args.batches, snntorch):
                rows.append(row)
                print(f"{row['case']:10s} {row['precision']:5s} {row['impl']:17s} "
                      f"{row['samples_per_s']:10.1f} samples/s  peak {row['peak_memory_bytes']}", flush=True)
    result = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__, "tiny": args.tiny, "threads": torch.get_num_threads(),
        "snntorch": snntorch, "norse": norse_status, "seconds": time.perf_counter() - t0,
        "results": rows, "summary": summarise(rows),
    }
    out = args.json or Path(__file__).parent / "results" / f"gpu_{device.type}{'_tiny' if args.tiny else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"-> {out}")
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
