"""Parity of NIR exports in the readers' own importers: Sinabs, Rockpool, snnTorch, spikelocal.

    python bench/nir_readers.py                 # 100 test images, all readers
    python bench/nir_readers.py --samples 20 --readers sinabs

What it does (rerunnable; every step is skipped when its result is already there):

1. trains ``experiments/quickstart_portable.yaml`` into ``runs/quickstart_portable`` and
   ``experiments/quickstart.yaml`` into ``runs/quickstart`` (about a minute each);
2. makes one virtual environment per reader under ``.venvs/`` (``--system-site-packages``,
   so torch is the installed one) and installs the reader with its own pinned nir
   (``sinabs``; ``rockpool[nir]``): both pin nir<=1.0.4, which cannot live beside
   spikelocal's nir;
3. encodes the first N test images once, as the run encodes them, and stores the spikes;
4. writes the portable export for each reader (``--reader sinabs|rockpool``), runs this same
   file inside the reader's environment (``--inside READER``), which loads the graph with the
   reader's own ``from_nir`` and nothing of spikelocal, and feeds it the stored spikes;
5. compares per-sample spike counts of every layer and the predicted class with spikelocal's
   simulation; snnTorch (``import_from_nir``, the default export at dt = 1e-4, hard reset) and
   spikelocal's own reimport of each file run in this environment.

Results: ``bench/results/nir_readers.json``. A reader that cannot be installed is recorded
with pip's error instead of figures.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VENVS = ROOT / ".venvs"
# what each reader environment installs (pip requirement strings), and its import name
READER_PACKAGES = {"sinabs": ["sinabs"], "rockpool": ["rockpool[nir]"], "norse": ["norse"]}
# norse 1.1 asks for torch 2.14 (and CUDA wheels); it runs on the installed torch, so it is
# installed without its dependencies (nir and nirtorch come from this environment)
NO_DEPS = {"norse"}


# ---------------------------------------------------------------------------------------------
# inside a reader's environment: only numpy, torch, nir and the reader itself are imported


def _lif_hooks(model, kinds: tuple[type, ...]) -> list[list]:
    """Record the spikes of every neuron module of ``model`` (in graph order)."""
    store: list[list] = []
    for module in model.modules():
        if isinstance(module, kinds):
            box: list = []
            store.append(box)
            module.register_forward_hook(lambda m, i, o, box=box: box.append(o[0] if isinstance(o, tuple) else o))
    return store


def run_sinabs(graph_path: str, x: np.ndarray, single: bool) -> list[np.ndarray]:
    """Sinabs 3.1: ``sinabs.from_nir``; squeeze layers take [batch * time, ...]. ``single``:
    the one line a user adds to get one spike per step (Sinabs' own ``SingleSpike``)."""
    import nir
    import sinabs
    import sinabs.layers as sl
    import torch
    from sinabs.activation import SingleSpike

    samples, steps = x.shape[:2]
    model = sinabs.from_nir(nir.read(graph_path), batch_size=samples)
    if single:
        for module in model.modules():
            if isinstance(module, sl.LIF):
                module.spike_fn = SingleSpike
    hooks = _lif_hooks(model, (sl.LIF,))
    with torch.no_grad():
        model(torch.as_tensor(x, dtype=torch.float32).reshape(samples * steps, *x.shape[2:]))
    return [box[-1].reshape(samples, steps, -1).numpy() for box in hooks]


def run_rockpool(graph_path: str, x: np.ndarray, single: bool) -> list[np.ndarray]:
    """Rockpool 3.1: ``rockpool.nn.modules.torch.nir.from_nir``; modules take [batch, time, n].
    ``single``: the one line for one spike per step (Rockpool's own ``max_spikes_per_dt``)."""
    import nir
    import torch
    from rockpool.nn.modules.torch import LIFTorch
    from rockpool.nn.modules.torch.nir import from_nir

    samples, steps = x.shape[:2]
    model = from_nir(nir.read(graph_path))
    if single:
        for module in model.modules():
            if isinstance(module, LIFTorch):
                module.max_spikes_per_dt = torch.tensor(1.0)
    hooks = _lif_hooks(model, (LIFTorch,))
    with torch.no_grad():
        model(torch.as_tensor(x, dtype=torch.float32).reshape(samples, steps, -1))
    return [box[-1].reshape(samples, steps, -1).numpy() for box in hooks]


def run_norse(graph_path: str, x: np.ndarray, single: bool) -> list[np.ndarray]:
    """Norse 1.1: ``norse.torch.from_nir(graph, dt=...)`` with the dt of the graph's metadata
    passed by hand (Norse does not read it); one sample at a time (NIR shapes have no batch
    axis, and the graph's Flatten would flatten a batch too); stateful: (output, state)."""
    import nir
    import norse.torch as norse
    import torch

    graph = nir.read(graph_path)
    dt = float(np.asarray(graph.metadata["dt"]))
    model = norse.from_nir(graph, dt=dt)
    kinds = tuple(type(m) for m in model.modules() if type(m).__name__ == "CubaLIF")
    hooks = _lif_hooks(model, kinds)
    samples, steps = x.shape[:2]
    with torch.no_grad():
        for sample in torch.as_tensor(x, dtype=torch.float32):
            state = None
            for frame in sample:
                _, state = model(frame, state)
    return [np.stack([o.reshape(-1).numpy() for o in box]).reshape(samples, steps, -1) for box in hooks]


RUNNERS = {"sinabs": run_sinabs, "rockpool": run_rockpool, "norse": run_norse}


def inside(reader: str, graph_path: str, spikes_path: str, out_path: str, mode: str) -> None:
    from importlib.metadata import version

    x = np.load(spikes_path)["spikes"]
    layers = RUNNERS[reader](graph_path, x, single=mode == "single")
    np.savez(out_path, **{f"layer{i}": a for i, a in enumerate(layers)},
             versions=json.dumps({p: version(p) for p in (reader, "nir", "nirtorch", "torch")}))


# ---------------------------------------------------------------------------------------------
# in spikelocal's environment


def ensure_env(reader: str, log=print) -> tuple[Path | None, str]:
    """The reader's python (creating its environment when missing), or None and pip's error."""
    env = VENVS / reader
    python = env / "bin" / "python"
    check = [str(python), "-c", f"import {reader}, nir"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python, ""
    log(f"[{reader}] creating {env.relative_to(ROOT)} (pip install {' '.join(READER_PACKAGES[reader])})")
    VENVS.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(env)], check=True)
    # --system-site-packages: torch and numpy come from this environment; a reader that asked
    # for another torch would show up here as pip replacing it, which the dry run refuses
    flags = ["--no-deps"] if reader in NO_DEPS else []
    dry = subprocess.run([str(python), "-m", "pip", "install", "--dry-run", *flags, *READER_PACKAGES[reader]],
                         capture_output=True, text=True)
    wanted = next((line for line in dry.stdout.splitlines() if line.startswith("Would install")), "")
    if dry.returncode != 0 or " torch-" in wanted:
        return None, (dry.stderr.strip().splitlines() or [wanted])[-1]
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", *flags, *READER_PACKAGES[reader]],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return None, (done.stderr.strip().splitlines() or ["pip failed"])[-1]
    return python, ""


def run_reader(python: Path, reader: str, graph: Path, spikes: Path, out: Path, single: bool = False) -> dict:
    """Counts [S, n] per layer, steps with more than one spike, versions: the reader's side.
    ``single``: with the reader's one-spike-per-step setting (see the runners)."""
    proc = subprocess.run([str(python), str(Path(__file__).resolve()), "--inside", reader, str(graph),
                           str(spikes), str(out), "single" if single else "as-loaded"],
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": ""}, cwd=str(graph.parent))
    if proc.returncode != 0:
        err = proc.stderr.strip().splitlines()
        return {"error": err[-1] if err else f"exit status {proc.returncode}"}
    data = np.load(out)
    layers = [data[k] for k in sorted((k for k in data.files if k.startswith("layer")), key=lambda k: int(k[5:]))]
    return {"counts": [a.sum(1).astype(np.int64) for a in layers],
            "multi_spike_steps": [int((a > 1).sum()) for a in layers],
            "versions": json.loads(str(data["versions"]))}


def train_if_missing(experiment: str, run_dir: Path, log=print) -> None:
    """Train ``experiment`` into ``run_dir`` unless a finished run is there."""
    import spikelocal as sl

    if (run_dir / "summary.json").exists():
        return
    log(f"training {experiment} -> {run_dir}")
    sl.train(str(ROOT / experiment), out=str(run_dir))


def compare(reader: str, net, spikes, graph: Path, work: Path, log=print,
            modes=(("as_loaded", False), ("one_spike_per_step", True))) -> dict:
    """spikelocal against ``reader`` running ``graph`` (in its environment), per mode, and
    spikelocal's own reimport of the file."""
    from spikelocal.export.brian2_export import spikelocal_counts
    from spikelocal.export.nir_import import read_nir
    from spikelocal.export.parity import agreement

    ours = spikelocal_counts(net, spikes)
    result: dict = {"reimport (spikelocal read_nir)": agreement(ours, spikelocal_counts(read_nir(graph), spikes))}
    python, error = ensure_env(reader, log)
    if python is None:
        result["not_installed"] = error
        return result
    np.savez(work / "spikes.npz", spikes=spikes.numpy().astype(np.float32))
    for mode, single in modes:
        side = run_reader(python, reader, graph, work / "spikes.npz", work / f"{reader}_counts.npz", single)
        if "error" in side:
            result[mode] = {"failed": side["error"]}
            continue
        figures = agreement(ours, side["counts"])
        figures["reader_spikes"] = [int(a.sum()) for a in side["counts"]]
        figures["multi_spike_steps"] = side["multi_spike_steps"]
        figures["versions"] = side["versions"]
        result[mode] = figures
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--inside", nargs=5, metavar=("READER", "GRAPH", "SPIKES", "OUT", "MODE"), help=argparse.SUPPRESS)
    p.add_argument("--samples", type=int, default=100)
    p.add_argument("--readers", default="sinabs,rockpool,snntorch,norse")
    p.add_argument("--portable-run", type=Path, default=ROOT / "runs" / "quickstart_portable")
    p.add_argument("--default-run", type=Path, default=ROOT / "runs" / "quickstart")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "nir_readers.json")
    args = p.parse_args(argv)
    if args.inside:
        inside(*args.inside)
        return 0
    return bench(args)


def bench(args) -> int:
    import torch

    from spikelocal.export import _test_samples
    from spikelocal.export.nir_portable import write_portable
    from spikelocal.rundir import load_network

    torch.set_num_threads(1)
    readers = [r.strip() for r in args.readers.split(",") if r.strip()]
    started = time.time()
    out: dict = {"samples": args.samples, "command": "python bench/nir_readers.py " + " ".join(sys.argv[1:]),
                 "machine": platform.processor() or platform.machine(), "readers": {}}
    work = args.out.parent / ".nir_readers_work"
    work.mkdir(parents=True, exist_ok=True)
    portable = [r for r in readers if r in ("sinabs", "rockpool")]
    if portable:
        train_if_missing("experiments/quickstart_portable.yaml", args.portable_run)
        config, net = load_network(args.portable_run)
        spikes, labels = _test_samples(config, args.samples)
        out["portable_run"] = {"experiment": "experiments/quickstart_portable.yaml",
                               **_run_info(args.portable_run),
                               "accuracy_on_these_samples": _accuracy(net, spikes, labels)}
        for reader in portable:
            graph = work / f"portable_{reader}.nir"
            graph.unlink(missing_ok=True)
            write_portable(net, graph, reader)
            out["readers"][reader] = compare(reader, net, spikes, graph, work)
            print(reader, json.dumps(out["readers"][reader]))
    if "snntorch" in readers or "norse" in readers:
        train_if_missing("experiments/quickstart.yaml", args.default_run)
        config, net = load_network(args.default_run)
        spikes, labels = _test_samples(config, args.samples)
        out["default_run"] = {"experiment": "experiments/quickstart.yaml (hard reset)",
                              **_run_info(args.default_run),
                              "accuracy_on_these_samples": _accuracy(net, spikes, labels)}
    if "snntorch" in readers:
        out["readers"]["snntorch"] = snntorch_figures(net, spikes, work)
        print("snntorch", json.dumps(out["readers"]["snntorch"]))
    if "norse" in readers:
        from spikelocal.export.nir_export import write_nir

        graph = work / "default_norse.nir"
        graph.unlink(missing_ok=True)
        write_nir(net, graph)  # the default export at the network's dt, passed to Norse by hand
        out["readers"]["norse"] = compare("norse", net, spikes, graph, work, modes=(("as_loaded", False),))
        print("norse", json.dumps(out["readers"]["norse"]))
    out["seconds"] = round(time.time() - started, 1)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2) + "\n")
    os.replace(tmp, args.out)
    print(f"-> {args.out}")
    return 0


def snntorch_figures(net, spikes, work: Path) -> dict:
    """snnTorch's ``import_from_nir`` of the default export written at dt = 1e-4 (the step its
    importer assumes), and spikelocal's reimport of the same file."""
    import snntorch

    from spikelocal.export.brian2_export import spikelocal_counts
    from spikelocal.export.nir_export import write_nir
    from spikelocal.export.nir_import import read_nir
    from spikelocal.export.parity import agreement, check_snntorch

    graph = work / "default_snntorch.nir"
    graph.unlink(missing_ok=True)
    write_nir(net, graph, dt=1e-4)
    figures = check_snntorch(net, spikes, graph)
    figures["imported"] = "the default export written at dt = 1e-4 (snntorch.import_nir.import_from_nir)"
    figures["versions"] = {"snntorch": snntorch.__version__, "nir": _version("nir")}
    return {"as_loaded": figures,
            "reimport (spikelocal read_nir)": agreement(spikelocal_counts(net, spikes),
                                                        spikelocal_counts(read_nir(graph), spikes))}


def _run_info(run_dir: Path) -> dict:
    summary = json.loads((run_dir / "summary.json").read_text())
    return {"epochs": summary.get("epochs"), "test_accuracy": summary.get("test_accuracy")}


def _accuracy(net, spikes, labels) -> float:
    from spikelocal.export.brian2_export import spikelocal_counts

    counts = spikelocal_counts(net, spikes)[-1]
    return float(np.mean(counts.argmax(1) == np.asarray(labels)))


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    sys.exit(main())
