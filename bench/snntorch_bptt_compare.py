"""spikelocal's spiking ``bp`` (BPTT) beside snnTorch's BPTT on the same network and data.

Both sides get the same architecture (784-H-H-10 current-based LIF, bias-free), the same
initial weights (copied from spikelocal into snnTorch's ``nn.Linear`` layers), the same
rate-coded input spikes for every batch (spikelocal's encoder, one generator per batch), the
same loss (cross-entropy on the output spikes at every step, mean over batch and time), the
same optimiser and the same batches. snnTorch's neuron is ``snn.Synaptic`` with
alpha = exp(-dt/tau_syn), beta = exp(-dt/tau_mem), the same threshold, the fast-sigmoid
surrogate with the same slope, ``reset_mechanism="zero"`` and ``reset_delay=False``: with
those the forward dynamics equal spikelocal's hard reset step for step (the script checks
the spikes of the first batch). One difference is snnTorch's own: with ``reset_delay=False``
its reset term ``spk * mem`` carries gradient, while spikelocal detaches the reset (as
snnTorch does with its default delayed reset); the script reports the gradients' angle per
layer on the first batch (null where a layer's gradient is zero), so the size of that
difference is visible.

    SPIKELOCAL_DATA=path/to/data python bench/snntorch_bptt_compare.py --json out.json
    python bench/snntorch_bptt_compare.py --hidden 200 --steps 25 --train 20000 --test 10000 \
        --epochs 2 --weight-scale 20        # docs/results: 0.42 points apart

``--weight-scale`` sets spikelocal's init (both sides start from the same weights). At the
default 1 the net is silent at init and both sides wake it through the surrogate only; the
runs then drift apart by more than 0.5 points (bench/results/snntorch_bptt_ws*.json).

Accuracy is measured on the first ``--test`` test images, encoded identically for both.
Runs on one CPU thread; wall-clock times vary on a shared machine.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import snntorch as snn
import torch
import torch.nn.functional as F
from snntorch import surrogate
from torch import Tensor, nn

from spikelocal.config import DataConfig, NetworkConfig
from spikelocal.data import ENCODERS, load_dataset, to_unit
from spikelocal.core.network import Network
from spikelocal.core.simulate import Simulator
from spikelocal.rules.bp import BPOptions, BPRule


class SnnTorchMLP(nn.Module):
    """Linear -> Synaptic per layer, stepped over time by hand (snnTorch's usual loop)."""

    def __init__(self, net: Network) -> None:
        super().__init__()
        nrn = net.layers[0].neuron
        self.fcs = nn.ModuleList()
        self.lifs = nn.ModuleList()
        for layer in net.layers:
            out_f, in_f = layer.weight.shape
            fc = nn.Linear(in_f, out_f, bias=False)
            with torch.no_grad():
                fc.weight.copy_(layer.weight)
            self.fcs.append(fc)
            self.lifs.append(snn.Synaptic(alpha=nrn.alpha, beta=nrn.beta, threshold=nrn.threshold,
                                          spike_grad=surrogate.fast_sigmoid(slope=nrn.slope),
                                          reset_mechanism="zero", reset_delay=False))

    def forward(self, x: Tensor) -> Tensor:
        """x [T, B, 784] -> output spikes [T, B, 10]."""
        states = [lif.reset_mem() for lif in self.lifs]
        out = []
        for t in range(x.shape[0]):
            h = x[t]
            for i, (fc, lif) in enumerate(zip(self.fcs, self.lifs)):
                h, syn, mem = lif(fc(h), *states[i])
                states[i] = (syn, mem)
            out.append(h)
        return torch.stack(out)


def encode_batch(x_uint8: Tensor, steps: int, seed: int) -> Tensor:
    gen = torch.Generator().manual_seed(seed)
    flat = to_unit(x_uint8).reshape(len(x_uint8), -1)
    return torch.cat(list(ENCODERS.get("rate")(flat, steps, steps, 1.0, gen)))


def spikelocal_step(rule: BPRule, opt: torch.optim.Optimizer, x: Tensor, y: Tensor, chunk: int) -> None:
    rule.compute_updates(iter(x.split(chunk)), y, [True] * len(rule.net.layers))
    opt.step()


def snntorch_step(model: SnnTorchMLP, opt: torch.optim.Optimizer, x: Tensor, y: Tensor) -> None:
    opt.zero_grad()
    spikes = model(x)
    steps, b = spikes.shape[:2]
    loss = F.cross_entropy(spikes.reshape(steps * b, -1), y.repeat(steps))
    loss.backward()
    opt.step()


@torch.no_grad()
def accuracy(predict, x_uint8: Tensor, y: Tensor, steps: int, seed: int, bs: int = 500) -> float:
    correct = 0
    for i, start in enumerate(range(0, len(x_uint8), bs)):
        x = encode_batch(x_uint8[start:start + bs], steps, seed + i)
        correct += int((predict(x).sum(0).argmax(1) == y[start:start + bs]).sum())
    return correct / len(x_uint8)


def spikelocal_predict(net: Network, chunk: int):
    def predict(x: Tensor) -> Tensor:
        sim = Simulator(net.layers)
        state = sim.start(x.shape[1], x.device)
        return torch.cat([sim.run(xc, state)[-1].pooled for xc in x.split(chunk)])
    return predict


def angle(a: Tensor, b: Tensor) -> float | None:
    """Angle in degrees between two gradients; None where either is zero."""
    va, vb = a.reshape(-1).double(), b.reshape(-1).double()
    if va.norm() == 0 or vb.norm() == 0:
        return None
    cos = float((va @ vb) / (va.norm() * vb.norm()))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="mnist", choices=["mnist", "fashion_mnist"])
    ap.add_argument("--train", type=int, default=10000, help="first N training images")
    ap.add_argument("--test", type=int, default=2000, help="first N test images")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=500)
    ap.add_argument("--weight-scale", type=float, default=1.0,
                    help="network.weight_scale of spikelocal's init (both sides start from the same weights)")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--chunk", type=int, default=25, help="spikelocal time chunk")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()
    torch.set_num_threads(1)

    data = load_dataset(DataConfig(dataset=args.dataset), args.seed)
    train_x, train_y = data.train_x[: args.train], data.train_y[: args.train]
    test_x, test_y = data.test_x[: args.test], data.test_y[: args.test]
    cfg = NetworkConfig(neuron={"kind": "lif"}, layers=[
        {"kind": "dense", "units": args.hidden}, {"kind": "dense", "units": args.hidden},
        {"kind": "dense", "units": 10}], weight_scale=args.weight_scale)
    net = Network.from_config(cfg, (784,), 10, seed=args.seed)
    model = SnnTorchMLP(net)
    rule = BPRule(net, BPOptions(window="step"), seed=args.seed)   # snnTorch: CE at every step
    opt_ours = torch.optim.Adamax(net.parameters(), lr=args.lr)
    opt_theirs = torch.optim.Adamax(model.parameters(), lr=args.lr)

    # first batch: forward spikes must agree; report the gradients' angle
    x0 = encode_batch(train_x[: args.batch], args.steps, args.seed)
    y0 = train_y[: args.batch]
    with torch.no_grad():
        same_spikes = bool(torch.equal(spikelocal_predict(net, args.chunk)(x0), model(x0)))
        first_rates = [float(c.sum()) / (args.batch * args.steps * layer.num_neurons) for c, layer in
                       zip(rule.compute_updates(iter(x0.split(args.chunk)), y0, [True] * 3).spike_counts, net.layers)]
    rule.compute_updates(iter(x0.split(args.chunk)), y0, [True] * 3)
    ours = [p.grad.clone() for p in net.parameters()]
    model.zero_grad()
    spikes = model(x0)
    F.cross_entropy(spikes.reshape(-1, 10), y0.repeat(args.steps)).backward()
    theirs = [fc.weight.grad.clone() for fc in model.fcs]
    grad_angles = [angle(a, b) for a, b in zip(ours, theirs)]

    times = {"spikelocal": 0.0, "snntorch": 0.0}
    history = []
    for epoch in range(args.epochs):
        order = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(args.seed * 1000 + epoch))
        for i, start in enumerate(range(0, len(train_x), args.batch)):
            idx = order[start:start + args.batch]
            x = encode_batch(train_x[idx], args.steps, (args.seed * 1000 + epoch) * 100003 + i)
            y = train_y[idx]
            t0 = time.process_time()
            spikelocal_step(rule, opt_ours, x, y, args.chunk)
            t1 = time.process_time()
            snntorch_step(model, opt_theirs, x, y)
            times["spikelocal"] += t1 - t0
            times["snntorch"] += time.process_time() - t1
        acc_ours = accuracy(spikelocal_predict(net, args.chunk), test_x, test_y, args.steps, 777)
        acc_theirs = accuracy(model, test_x, test_y, args.steps, 777)
        history.append({"epoch": epoch + 1, "spikelocal_bp": acc_ours, "snntorch_bptt": acc_theirs})
        print(f"epoch {epoch + 1}: spikelocal bp {acc_ours:.4f}  snnTorch BPTT {acc_theirs:.4f}", flush=True)

    last = history[-1]
    result = {
        "dataset": args.dataset, "train": len(train_x), "test": len(test_x), "epochs": args.epochs,
        "network": f"784-{args.hidden}-{args.hidden}-10 CubaLIF, hard reset", "steps": args.steps, "weight_scale": args.weight_scale,
        "optimizer": f"adamax lr={args.lr}", "batch": args.batch, "snntorch": snn.__version__,
        "first_batch_spikes_identical": same_spikes,
        "first_batch_rates": first_rates,
        "first_batch_grad_angle_deg": grad_angles,
        "history": history,
        "difference_points": 100 * (last["spikelocal_bp"] - last["snntorch_bptt"]),
        "within_0.5_points": abs(last["spikelocal_bp"] - last["snntorch_bptt"]) <= 0.005,
        "train_cpu_seconds": times,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        tmp = args.json.with_name(f".{args.json.name}.tmp")
        tmp.write_text(json.dumps(result, indent=2) + "\n")
        tmp.replace(args.json)


if __name__ == "__main__":
    main()
