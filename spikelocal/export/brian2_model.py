"""A spikelocal network rebuilt in Brian2 (Stimberg et al. 2019, eLife 8:e47314).

This module needs only numpy and brian2: ``spikelocal export --format brian2`` copies it
next to the weights file, so the exported network runs on a machine without spikelocal.

The discrete CUBA update of ``spikelocal.core.neurons`` is written out in a ``run_regularly``
operation at the network's dt (exact; no ODE solver is involved)::

    I = alpha I + Iin;  Iin = 0;  v = beta v + I + b;   spike if v > theta;  v <- 0

``Iin`` collects the synaptic events of the previous step (``on_pre: Iin_post += w``).
In Brian2's schedule a spike is delivered in the step it is emitted, after the neurons
were updated, so every synaptic hop costs one dt: layer l handles spikelocal step t at
Brian2 step t + l. Samples therefore run one after another in windows of T + L steps;
at each window's first step the state is cleared, the bias of layer l is on from window
step l, and layer l's spikes count in window steps [l, l + T): the same spike counts as
spikelocal. No Python ``network_operation`` is used (it would never run in standalone mode).

Arrays (``weights.npz``): ``dt``, ``steps``, ``n_input``, ``n_layers``, and per layer l
(1-based) ``l{l}_n``, ``l{l}_alpha``, ``l{l}_beta``, ``l{l}_threshold``, ``l{l}_bias`` [n],
``l{l}_pre``, ``l{l}_post``, ``l{l}_w`` (one entry per synapse, pooling of the layer below
already folded in); a recurrent layer also ``l{l}_rec_pre``, ``l{l}_rec_post``,
``l{l}_rec_w``: synapses from the group to itself. A spike of step t reaches ``Iin`` after
the update of step t and enters I at step t + 1: spikelocal's W_rec s[t-1], with no delay.
"""
from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

_EQS = """
I : 1
v : 1
Iin : 1
b : 1 (constant)
"""

_UPDATE = """
live = int((t_in_timesteps % window) != 0)
I = (alpha * I + Iin) * live
Iin = 0
v = (beta * v + I + b * int((t_in_timesteps % window) >= first)) * live
"""


def build(arrays: Mapping[str, np.ndarray], spikes: np.ndarray, target: str = "numpy"):
    """Build the Brian2 network for input spikes ``[S, T, n_input]`` (S samples in turn).

    Returns ``(network, monitors, window)``; run it with :func:`run_counts`.
    """
    import brian2 as b2

    b2.prefs.codegen.target = target
    dt = float(arrays["dt"]) * b2.second
    steps, n_layers = int(arrays["steps"]), int(arrays["n_layers"])
    if spikes.shape[1] != steps or spikes.shape[2] != int(arrays["n_input"]):
        raise ValueError(f"input spikes must be [S, {steps}, {int(arrays['n_input'])}], got {list(spikes.shape)}")
    window = steps + n_layers
    s, t, i = np.nonzero(spikes)
    source = b2.SpikeGeneratorGroup(int(arrays["n_input"]), i.astype(np.int64),
                                    (s * window + t) * dt, dt=dt, name="input")
    objects: list = [source]
    monitors = []
    pre = source
    for l in range(1, n_layers + 1):
        n = int(arrays[f"l{l}_n"])
        ns = {"alpha": float(arrays[f"l{l}_alpha"]), "beta": float(arrays[f"l{l}_beta"]),
              "theta": float(arrays[f"l{l}_threshold"]), "window": window, "first": l}
        group = b2.NeuronGroup(n, _EQS, threshold="v > theta", reset="v = 0", dt=dt,
                               namespace=ns, name=f"layer{l}")
        group.b = arrays[f"l{l}_bias"]
        group.run_regularly(_UPDATE, dt=dt, when="start",
                            name=f"layer{l}_update")
        syn = b2.Synapses(pre, group, model="w : 1", on_pre="Iin_post += w", dt=dt, name=f"syn{l}")
        syn.connect(i=arrays[f"l{l}_pre"].astype(np.int64), j=arrays[f"l{l}_post"].astype(np.int64))
        syn.w = arrays[f"l{l}_w"]
        mon = b2.SpikeMonitor(group, name=f"spikes{l}")
        objects += [group, syn, mon]
        if f"l{l}_rec_w" in arrays:
            rec = b2.Synapses(group, group, model="w : 1", on_pre="Iin_post += w", dt=dt, name=f"rec{l}")
            rec.connect(i=arrays[f"l{l}_rec_pre"].astype(np.int64), j=arrays[f"l{l}_rec_post"].astype(np.int64))
            rec.w = arrays[f"l{l}_rec_w"]
            objects.append(rec)
        monitors.append(mon)
        pre = group
    net = b2.Network(*objects)
    return net, monitors, window


def run_counts(arrays: Mapping[str, np.ndarray], spikes: np.ndarray,
               target: str = "numpy") -> list[np.ndarray]:
    """Spike counts per sample and neuron, ``[S, n_l]`` for every layer, as spikelocal counts."""
    import brian2 as b2

    net, monitors, window = build(arrays, spikes, target)
    dt = float(arrays["dt"])
    steps = int(arrays["steps"])
    samples = spikes.shape[0]
    net.run(samples * window * dt * b2.second)
    counts = []
    for l, mon in enumerate(monitors, start=1):
        step = np.rint(np.asarray(mon.t / b2.second) / dt).astype(np.int64)
        sample, within = step // window, step % window
        keep = (within >= l) & (within < l + steps)
        out = np.zeros((samples, int(arrays[f"l{l}_n"])), dtype=np.int64)
        np.add.at(out, (sample[keep], np.asarray(mon.i)[keep]), 1)
        counts.append(out)
    return counts


def predict(counts: list[np.ndarray]) -> np.ndarray:
    """Predicted class: the output neuron with most spikes (first one on ties, like argmax)."""
    return counts[-1].argmax(axis=1)


def load_arrays(path: str) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def main(argv: Optional[list[str]] = None) -> int:
    """``python spikelocal_brian2.py weights.npz [inputs.npz]``: run and print counts."""
    import argparse

    p = argparse.ArgumentParser(description="run an exported spikelocal network in Brian2")
    p.add_argument("weights")
    p.add_argument("inputs", nargs="?", help="npz with 'spikes' [S, T, n_input]; default: the "
                   "samples stored in the weights file, else 4 random Poisson samples")
    p.add_argument("--target", default="numpy", help="Brian2 code generation target (numpy, cython)")
    args = p.parse_args(argv)
    arrays = load_arrays(args.weights)
    if args.inputs:
        spikes = load_arrays(args.inputs)["spikes"]
    elif "sample_spikes" in arrays:
        spikes = arrays["sample_spikes"]
    else:
        rng = np.random.default_rng(0)  # standalone script: cannot import spikelocal.seeds
        spikes = rng.random((4, int(arrays["steps"]), int(arrays["n_input"]))) < 0.2
    counts = run_counts(arrays, spikes.reshape(spikes.shape[0], spikes.shape[1], -1).astype(bool), args.target)
    for l, c in enumerate(counts, start=1):
        print(f"layer{l}: {int(c.sum())} spikes over {c.shape[0]} samples")
    if "sample_labels" in arrays and not args.inputs:
        labels = arrays["sample_labels"]
        acc = float((predict(counts) == labels).mean())
        print(f"accuracy on the {len(labels)} stored test samples: {acc:.4f} "
              f"({int((predict(counts) == labels).sum())} of {len(labels)} classified as labelled)")
    elif "sample_spikes" not in arrays and not args.inputs:
        print("no test samples stored in this export (export with --samples N): "
              "ran 4 random Poisson inputs, so the classes below say nothing about accuracy")
    print("predicted classes:", " ".join(str(int(k)) for k in predict(counts)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
