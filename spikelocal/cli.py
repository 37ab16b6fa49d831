"""The ``spikelocal`` command. Each sub-command is a thin wrapper over a Python function.

A user error prints one line (``spikelocal: error: ...``) and exits with status 2; a run
that fails while training (NaN loss) exits with status 1; no traceback either way. Any other
exception is a bug of ours: one line and status 1, the traceback only with ``--debug``.
"""
from __future__ import annotations

import argparse
import inspect
import sys
import traceback
from pathlib import Path
from typing import Optional

from . import api, distributed, rundir
from .version import __version__
from .commands import COMMAND_MODULES, COMMANDS, Command, command, load_commands  # noqa: F401
from .errors import RunFailed, SpikelocalError
from .devices import subnormals_flushed


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("experiment", help="experiment YAML file")
    p.add_argument("--out", type=Path, help="run directory (default runs/<name>, never an existing one)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set training.lr=1e-3 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N (sets training.device)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--strict", action="store_true",
                   help="exit with status 1 when training went wrong (chance level, loss blew up)")


@command("run", _run_args)
def _run(args: argparse.Namespace) -> int:
    """Train one experiment (YAML) into a run directory; --resume continues a killed run.

    Example: spikelocal run experiments/quickstart.yaml --set training.epochs=1 --out runs/q1
    """
    device = [f"training.device={args.device}"] if args.device else []
    config = api.load_config(args.experiment, [*args.overrides, *device])
    out = args.out
    if args.resume and out is None:
        out = Path("runs") / (config.name or "run")
    if args.resume and not (out / rundir.CONFIG).exists():
        raise SpikelocalError(f"{out}: no run to resume (no {rundir.CONFIG}); drop --resume to start one")
    try:
        result = api.train(config, out if out is not None else rundir.default_out(config),
                           resume=args.resume, progress=not args.quiet and sys.stderr.isatty())
    finally:
        distributed.shutdown()
    if not distributed.is_main_process():
        return 0
    summary = result.summary
    print(f"test accuracy {result.test_accuracy:.4f} after {summary['epochs']} epochs "
          f"({summary['train_seconds']:.0f} s training) -> {result.path}")
    for warning in summary.get("warnings", []):
        print(f"spikelocal: warning: {warning}", file=sys.stderr)
    if args.strict and summary.get("warnings"):
        raise RunFailed(f"--strict: {summary['warnings'][0]}")
    return 0


MAIN_HELP = """Train rate and spiking networks with three-factor local rules, and analyse, convert,
export and sweep them. 'spikelocal COMMAND --help' says what a command does, with an example.

Example: spikelocal run experiments/quickstart.yaml"""

def build_parser() -> argparse.ArgumentParser:
    load_commands()
    parser = argparse.ArgumentParser(prog="spikelocal", description=MAIN_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"spikelocal {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (setup, fn) in COMMANDS.items():
        doc = inspect.cleandoc(fn.__doc__ or "")
        p = sub.add_parser(name, help=doc.splitlines()[0] if doc else None, description=doc or None,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        setup(p)
        p.set_defaults(func=fn)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # before PyTorch starts its worker threads, which inherit it; restored on return
        with subnormals_flushed():
            return args.func(args)
    except SpikelocalError as exc:
        _say(args, "error", exc)
        return exc.exit_code
    except RunFailed as exc:
        _say(args, "run failed", exc)
        return exc.exit_code
    except KeyboardInterrupt:
        print("spikelocal: interrupted; continue with --resume", file=sys.stderr)
        return 130
    except MemoryError:
        _say(args, "run failed", "out of memory; lower training.batch_size, data.steps or the layer sizes")
        return 1
    except Exception as exc:  # a bug of ours: still one line, the traceback on request
        _say(args, "internal error", f"{type(exc).__name__}: {exc} (rerun with 'spikelocal --debug ...' "
                                     "for the traceback)")
        return 1


def _say(args: argparse.Namespace, kind: str, message: object) -> None:
    """Print ``message`` on one line (the traceback too with --debug)."""
    if getattr(args, "debug", False):
        traceback.print_exc()
    text = " ".join(str(message).split()) or type(message).__name__
    print(f"spikelocal: {kind}: {text}", file=sys.stderr)

