"""``spikelocal sweep SWEEP.yaml``: run a grid of experiments and tabulate them.

Exit status 0 when every point finished, 1 when some failed (their errors are in
``results.md`` and ``results.csv``), 2 for a bad sweep file, an unreachable scheduler or a
sweep directory of another sweep file (nothing is started then).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..commands import command
from ..errors import SpikelocalError
from .runner import check_scheduler, connect, cpu_cores, prepare_sweep_dir, run_sweep
from .results import write_results
from .spec import load_sweep


def _sweep_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("sweep", type=Path, help="sweep YAML file (base or bases, set, grid)")
    p.add_argument("--out", type=Path, help="sweep directory (default sweeps/<sweep file name>); "
                   "an existing one of the same sweep file is resumed")
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: the number of cores)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on the Dask cluster of this scheduler (e.g. tcp://host:8786)")
    p.add_argument("--retry-failed", action="store_true", help="run failed points again (default: keep their error)")
    p.add_argument("--no-share-training", action="store_true",
                   help="train every point, also those that differ from another only in test-time noise "
                   "or pruning after training (default: they copy that point's training)")
    p.add_argument("--no-plots", action="store_true", help="write results.csv and results.md only")
    p.add_argument("--quiet", action="store_true", help="no line per finished point")


@command("sweep", _sweep_args)
def _sweep(args: argparse.Namespace) -> int:
    """Run a grid of experiments (local processes or Dask) into one sweep directory.

    Example: spikelocal sweep experiments/holistic_mnist_small.yaml --workers 2
    """
    if args.scheduler:
        check_scheduler(args.scheduler)  # first: an unreachable scheduler fails within seconds

    spec = load_sweep(args.sweep)
    out = args.out if args.out is not None else Path("sweeps") / spec.name
    workers = args.workers if args.workers is not None else cpu_cores()
    if workers < 1:
        raise SpikelocalError(f"--workers {workers}: need at least 1")
    prepare_sweep_dir(spec, out, create=False)  # a foreign directory fails before connecting
    client = connect(args.scheduler) if args.scheduler else None
    total, done = len(spec.points), 0

    def report(result: dict) -> None:
        nonlocal done
        done += 1
        if args.quiet:
            return
        what = "finished" if result["state"] == "finished" else f"FAILED: {result.get('error')}"
        if result.get("skipped"):
            what = f"already {result['state']}" + (f": {result['error']}" if result.get("error") else "")
        acc = f" test_acc {result['test_accuracy']:.4f}" if "test_accuracy" in result else ""
        if result.get("resumed"):
            what += " (resumed)"
        if result.get("trained_by"):
            what += f" (training of {result['trained_by']})"
        print(f"[{done}/{total}] {result['name']}: {what}{acc} ({result.get('seconds', 0):.1f} s)", flush=True)

    try:
        where = f"Dask scheduler {args.scheduler}" if client is not None else f"{workers} local worker(s)"
        if not args.quiet:
            print(f"sweep {spec.path}: {total} points on {where} -> {out}", flush=True)
        run_sweep(spec, out, workers=workers, client=client, retry_failed=args.retry_failed, on_result=report,
                  share_training=not args.no_share_training)
    except KeyboardInterrupt:
        print(f"spikelocal: interrupted; run the same command again to resume the sweep in {out}", file=sys.stderr)
        return 130
    finally:
        if client is not None:
            client.close()
    written = write_results(spec, out, plots=not args.no_plots)
    print(f"{written['finished']}/{written['points']} points finished -> {written['csv']}, {written['markdown']}"
          + (f", {len(written['plots'])} plots in {out / 'plots'}" if written["plots"] else ""))
    if written["failed"]:
        print(f"spikelocal: {written['failed']} point(s) not finished; see {written['markdown']}", file=sys.stderr)
        return 1
    return 0
