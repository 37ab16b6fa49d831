"""A spikelocal network rebuilt in Brian2 (Stimberg et al. 2019, eLife 8:e47314).

This module needs only numpy and brian2: ``spikelocal export --format brian2`` copies it
next to the weights file, so the exported network runs on a machine without spikelocal.

Each layer is a ``NeuronGroup`` of current-based LIF neurons written as Brian2 users write
them, with units, and integrated with ``method='exact'``::

    dv/dt = (-v + R*(I + I_bias)) / tau_mem : volt
    dI/dt = -I / tau_syn                    : amp
    threshold: v > v_th        reset: v = 0*mV        on_pre: I_post += w

Why these numbers give spikelocal's discrete map (``I = alpha I + W s``, ``v = beta v + I + b``)
exactly, up to float rounding:

- ``defaultclock.dt`` is the network's dt and ``tau = -dt / ln(decay)``, so exact
  integration decays I by ``alpha`` and v by ``beta`` per step;
- over one step, exact integration moves a current I into v as ``c * R * I`` with
  ``c = tau_syn / (tau_syn - tau_mem) * (alpha - beta)`` (``dt/tau * alpha`` when the two
  taus are equal; the equations then use one tau, since the general solution divides by
  their difference). Brian2 delivers a spike (``on_pre``) after the neurons were updated,
  so it enters v one step later, already decayed once; a synaptic jump of
  ``w = W / (c * R)`` then adds exactly ``alpha I + W s`` to v, as spikelocal does;
- a constant current adds ``(1 - beta) * R * I_bias`` to v per step: ``I_bias = b / ((1 - beta) R)``;
- one unit of spikelocal's membrane is 1 mV, ``R`` is 1 Mohm (so currents are in nA).

Timing: every synaptic hop costs one dt (a spike of step n is delivered at step n and seen
by the update of step n + 1), so layer l handles spikelocal step t at Brian2 step t + l, and
its bias is switched on at step l (``I_bias`` is ``constant over dt``, gated by
``t_in_timesteps``). Each sample runs on its own from the network's stored initial state
(``Network.store`` / ``restore``, Brian2's way of running trials) for T + L steps, and layer
l's spikes count in steps [l, l + T): the same spike counts as spikelocal. A recurrent
layer's spike of step t reaches I at step t and v at step t + 1: spikelocal's ``W_rec s[t-1]``.

Arrays (``weights.npz``, discrete as spikelocal holds them): ``dt``, ``steps``, ``n_input``,
``n_layers``, and per layer l (1-based) ``l{l}_n``, ``l{l}_alpha``, ``l{l}_beta``,
``l{l}_threshold``, ``l{l}_bias`` [n], ``l{l}_pre``, ``l{l}_post``, ``l{l}_w`` (one entry per
synapse, pooling of the layer below already folded in); a recurrent layer also
``l{l}_rec_pre``, ``l{l}_rec_post``, ``l{l}_rec_w``. :func:`physical` turns them into the
units above.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Optional

import numpy as np

#: membrane resistance: with v in mV, currents come out in nA
R_MOHM = 1.0

_EQS = """
dv/dt = (-v + R*(I + I_bias)) / {tau_mem} : volt
dI/dt = -I / {tau_syn} : amp
I_bias = b_current * int(t_in_timesteps >= first_step) : amp (constant over dt)
b_current : amp (constant)
"""


def physical(arrays: Mapping[str, np.ndarray], l: int) -> dict[str, Any]:
    """Layer ``l``'s parameters in Brian2 units: taus (s), threshold (mV), bias currents and
    synaptic jumps (nA), and whether the two taus are one (see the module docstring)."""
    dt = float(arrays["dt"])
    alpha, beta = float(arrays[f"l{l}_alpha"]), float(arrays[f"l{l}_beta"])
    for name, decay in (("alpha", alpha), ("beta", beta)):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"layer{l}: decay {name}={decay} has no time constant (needs 0 < {name} < 1)")
    tau_mem, tau_syn = -dt / math.log(beta), -dt / math.log(alpha)
    same = alpha == beta
    c = dt / tau_mem * alpha if same else tau_syn / (tau_syn - tau_mem) * (alpha - beta)
    out = {"tau_mem": tau_mem, "tau_syn": tau_syn, "same_tau": same,
           "v_th_mV": float(arrays[f"l{l}_threshold"]),
           "bias_nA": np.asarray(arrays[f"l{l}_bias"], np.float64) / ((1.0 - beta) * R_MOHM),
           "w_nA": np.asarray(arrays[f"l{l}_w"], np.float64) / (c * R_MOHM)}
    if f"l{l}_rec_w" in arrays:
        out["rec_w_nA"] = np.asarray(arrays[f"l{l}_rec_w"], np.float64) / (c * R_MOHM)
    return out


def build(arrays: Mapping[str, np.ndarray], spikes: np.ndarray, target: str = "numpy"):
    """Build the Brian2 network (input as a ``SpikeGeneratorGroup``, one ``NeuronGroup`` and
    ``Synapses`` per layer, a ``SpikeMonitor`` each) and store its initial state.

    ``spikes`` [S, T, n_input] only fixes the shape checked here; :func:`run_counts` feeds the
    samples one by one. Returns ``(network, monitors, window)``, window = T + L steps per sample.
    """
    import brian2 as b2

    b2.prefs.codegen.target = target
    dt = float(arrays["dt"]) * b2.second
    b2.defaultclock.dt = dt
    steps, n_layers = int(arrays["steps"]), int(arrays["n_layers"])
    if spikes.ndim != 3 or spikes.shape[1] != steps or spikes.shape[2] != int(arrays["n_input"]):
        raise ValueError(f"input spikes must be [S, {steps}, {int(arrays['n_input'])}], got {list(spikes.shape)}")
    source = b2.SpikeGeneratorGroup(int(arrays["n_input"]), np.zeros(0, np.int64), np.zeros(0) * b2.second,
                                    name="input")
    objects: list = [source]
    monitors = []
    pre = source
    for l in range(1, n_layers + 1):
        p = physical(arrays, l)
        taus = ("tau_mem", "tau_mem" if p["same_tau"] else "tau_syn")
        ns = {"R": R_MOHM * b2.Mohm, "tau_mem": p["tau_mem"] * b2.second, "tau_syn": p["tau_syn"] * b2.second,
              "v_th": p["v_th_mV"] * b2.mV, "first_step": l}
        group = b2.NeuronGroup(int(arrays[f"l{l}_n"]), _EQS.format(tau_mem=taus[0], tau_syn=taus[1]),
                               threshold="v > v_th", reset="v = 0*mV", method="exact", namespace=ns,
                               name=f"layer{l}")
        group.b_current = p["bias_nA"] * b2.nA
        syn = b2.Synapses(pre, group, model="w : amp", on_pre="I_post += w", name=f"syn{l}")
        syn.connect(i=arrays[f"l{l}_pre"].astype(np.int64), j=arrays[f"l{l}_post"].astype(np.int64))
        syn.w = p["w_nA"] * b2.nA
        mon = b2.SpikeMonitor(group, name=f"spikes{l}")
        objects += [group, syn, mon]
        if "rec_w_nA" in p:
            rec = b2.Synapses(group, group, model="w : amp", on_pre="I_post += w", name=f"rec{l}")
            rec.connect(i=arrays[f"l{l}_rec_pre"].astype(np.int64), j=arrays[f"l{l}_rec_post"].astype(np.int64))
            rec.w = p["rec_w_nA"] * b2.nA
            objects.append(rec)
        monitors.append(mon)
        pre = group
    net = b2.Network(*objects)
    net.store("initial")
    return net, monitors, steps + n_layers


def run_counts(arrays: Mapping[str, np.ndarray], spikes: np.ndarray,
               target: str = "numpy") -> list[np.ndarray]:
    """Spike counts per sample and neuron, ``[S, n_l]`` for every layer, as spikelocal counts."""
    import brian2 as b2

    net, monitors, window = build(arrays, spikes, target)
    source = net["input"]
    dt = float(arrays["dt"])
    steps = int(arrays["steps"])
    counts = [np.zeros((spikes.shape[0], int(arrays[f"l{l}_n"])), dtype=np.int64)
              for l in range(1, len(monitors) + 1)]
    for s, sample in enumerate(spikes):
        net.restore("initial")
        t, i = np.nonzero(sample)
        source.set_spikes(i.astype(np.int64), t * dt * b2.second)
        net.run(window * dt * b2.second)
        for l, mon in enumerate(monitors, start=1):
            step = np.rint(np.asarray(mon.t / b2.second) / dt).astype(np.int64)
            keep = (step >= l) & (step < l + steps)
            np.add.at(counts[l - 1][s], np.asarray(mon.i)[keep], 1)
    return counts


def predict(counts: list[np.ndarray]) -> np.ndarray:
    """Predicted class: the output neuron with most spikes (first one on ties, like argmax)."""
    return counts[-1].argmax(axis=1)


def load_arrays(path: str) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def main(argv: Optional[list[str]] = None) -> int:
    """``python spikelocal_brian2.py weights.npz [inputs.npz]``: run, print counts and accuracy."""
    import argparse

    p = argparse.ArgumentParser(description="run an exported spikelocal network in Brian2")
    p.add_argument("weights")
    p.add_argument("inputs", nargs="?", help="npz with 'spikes' [S, T, n_input]; default: the "
                   "test samples stored in the weights file, else 4 random Poisson samples")
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
        hits = predict(counts) == labels
        print(f"accuracy on the {len(labels)} stored test samples: {float(hits.mean()):.4f} "
              f"({int(hits.sum())} of {len(labels)} classified as labelled)")
    elif "sample_spikes" not in arrays and not args.inputs:
        print("no test samples stored in this export (export with --samples N): "
              "ran 4 random Poisson inputs, so the classes below say nothing about accuracy")
    print("predicted classes:", " ".join(str(int(k)) for k in predict(counts)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
