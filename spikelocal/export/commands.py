"""CLI: ``spikelocal export RUN --format nir|netx|brian2|cores`` and ``spikelocal import-nir``."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..commands import command
from . import FORMATS
import json
import sys
import warnings
from . import export
from ..config import load_experiment
from .nir_import import start_run_from_nir
from .nir_portable import READERS


def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, help="a run directory")
    p.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
    p.add_argument("--out", type=Path, help="output file (folder for brian2); default RUN/export/...")
    p.add_argument("--force", action="store_true", help="replace an existing --out (never the run directory)")
    p.add_argument("--dt", type=float, help="nir: graph time step in s (default the network's; "
                   "1e-4 for snnTorch's import_from_nir)")
    p.add_argument("--reader", choices=(*READERS, "snntorch", "norse"),
                   help="nir: write the graph this reader's own from_nir runs. sinabs, rockpool: nir<=1.0.4 "
                        "layout, the reader's discretisation, needs the reset by subtraction (see "
                        "experiments/quickstart_portable.yaml); snntorch: dt 1e-4, recurrent loops in the "
                        "form snnTorch's import_from_nir runs; norse: biased layers as LI -> bias current "
                        "-> LIF, written for Norse's default dt (1e-3 s)")
    p.add_argument("--target", default="loihi", help="netx/cores: target chip (name or YAML)")
    p.add_argument("--weight-bits", type=int, default=8, help="netx/cores: weight mantissa bits")
    p.add_argument("--samples", type=int, default=20,
                   help="brian2: encoded test images (with labels) stored as run.py's default input "
                        "(default 20; 0: none)")
    p.add_argument("--check", type=int, default=0, metavar="N",
                   help="read the written file back with its real reader, run N encoded test images "
                        "through it and print the spike-count and class agreement with spikelocal (nir: "
                        "snnTorch import_from_nir and import-nir; brian2: Brian2 from weights.npz; netx: "
                        "read_netx and as lava-dl reads it; cores: read_corefile)")


@command("export", _export_args)
def _export(args: argparse.Namespace) -> int:
    """Export a trained network to NIR, netx HDF5, Brian2 or a core file.

    Example: spikelocal export runs/quickstart --format nir --dt 1e-4 --check 100
    """
    with warnings.catch_warnings(record=True) as notes:   # a format's caveats: one line each
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", DeprecationWarning)   # readers' dependencies, not the user's business
        path, checks = export(args.run_dir, args.fmt, args.out, dt=args.dt, target=args.target,
                              weight_bits=args.weight_bits, samples=args.samples, check=args.check,
                              force=args.force, reader=args.reader)
    for note in notes:
        print(f"spikelocal: note: {' '.join(str(note.message).split())}", file=sys.stderr)
    print(f"{args.fmt} -> {path}")
    for name, figures in checks.items():
        print(f"{name}: {json.dumps(figures)}")
    return 0


def _import_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("graph", type=Path, help="a NIR file (nir.write)")
    p.add_argument("experiment", help="experiment YAML giving data, rule and training (its network is replaced)")
    p.add_argument("--out", type=Path, required=True, help="new run directory")
    p.add_argument("--dt", type=float, help="time step the graph was written for (default: its metadata 'dt')")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--no-train", action="store_true",
                   help="only create the run (continue with: spikelocal run OUT/config.yaml --resume --out OUT)")


@command("import-nir", _import_args)
def _import_nir(args: argparse.Namespace) -> int:
    """Import a NIR graph as a spikelocal network and train it with the experiment's rule.

    Example: spikelocal import-nir snn.nir experiments/quickstart.yaml --dt 1e-4 --out runs/imported
    """
    config = load_experiment(args.experiment, args.overrides)
    summary = start_run_from_nir(args.graph, config, args.out, dt=args.dt, train=not args.no_train)
    if args.no_train:
        print(f"imported {args.graph} -> {args.out} (not trained)")
    else:
        print(f"imported {args.graph}; test accuracy {summary['test_accuracy']:.4f} after "
              f"{summary['epochs']} epochs -> {args.out}")
    return 0
