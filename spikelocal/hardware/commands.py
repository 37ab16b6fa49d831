"""``spikelocal convert``: the CLI face of :func:`spikelocal.hardware.convert`."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..commands import command
import torch
from ..errors import ConfigError
from .convert import convert


def _convert_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, help="a finished run directory")
    p.add_argument("--target", default="loihi", help="target name (built in: loihi) or a target YAML file")
    p.add_argument("--weight-bits", type=int, default=8, help="weight mantissa bits, 2 to 8 (default 8)")
    p.add_argument("--rounding", choices=["nearest", "stochastic"], default="nearest")
    p.add_argument("--out", type=Path, help="output directory (default RUN_DIR/convert_<target>_w<bits>)")
    p.add_argument("--finetune", action="store_true",
                   help="quantisation-aware fine-tuning with the run's rule, weights kept on the grid")
    p.add_argument("--finetune-fraction", type=float, default=0.1, help="fraction of the training set (default 0.1)")
    p.add_argument("--finetune-epochs", type=int, default=1)
    p.add_argument("--finetune-lr", type=float, help="default: a quarter of the run's training.lr")
    p.add_argument("--no-sweep", action="store_true", help="skip the 2..8 weight-bit sweep")
    p.add_argument("--test-samples", type=int, help="evaluate on the first N test images only")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")


@command("convert", _convert_args)
def _convert(args: argparse.Namespace) -> int:
    """Convert a trained spiking network to a neuromorphic target's fixed point and cores.

    Example: spikelocal convert runs/quickstart --weight-bits 4 --finetune
    """
    if not 0 < args.finetune_fraction <= 1:
        raise ConfigError(f"--finetune-fraction {args.finetune_fraction}: expected a fraction in (0, 1]")
    if args.finetune_epochs < 1 or (args.test_samples is not None and args.test_samples < 1):
        raise ConfigError("--finetune-epochs and --test-samples take positive integers")
    torch.set_num_threads(args.threads)
    s = convert(args.run_dir, args.out, target=args.target, weight_bits=args.weight_bits, rounding=args.rounding,
                finetune=args.finetune, finetune_fraction=args.finetune_fraction,
                finetune_epochs=args.finetune_epochs, finetune_lr=args.finetune_lr, sweep=not args.no_sweep,
                test_samples=args.test_samples)
    tuned = ""
    if "finetune" in s:
        ft = s["finetune"]
        tuned = (f" (before fine-tuning {ft['fixed_test_accuracy_before']:.4f}; float after the same "
                 f"training {ft['float_test_accuracy_after_same_training']:.4f})")
    print(f"float {s['float_test_accuracy']:.4f} -> {s['target']} {s['weight_bits']}-bit "
          f"{s['fixed_test_accuracy']:.4f}{tuned}; {s['cores_used']} cores "
          f"({'fits' if s['fits_one_chip'] else 'does not fit'} one chip) -> {s['out_dir']}")
    return 0
