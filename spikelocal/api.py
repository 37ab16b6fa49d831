"""The Python entry points a script uses: load a config, train it, reopen a finished run.

The CLI's ``run`` command calls :func:`train` too, so a script and the command give the
same numbers for the same config and seed::

    import spikelocal as sl

    config = sl.load_config("experiments/quickstart.yaml", overrides=["training.epochs=1"])
    run = sl.train(config)                    # out=None: no run directory is kept
    print(run.test_accuracy, run.metrics[-1]["layer1_test_acc"])
    same = sl.load_run("runs/quickstart")     # a run directory written by the CLI
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from . import distributed, rundir
from .config import ExperimentConfig, load_experiment
from .core.network import Network
from .devices import resolve_device
from .errors import RunDirError
from .trainer import run as run_experiment

PathLike = Union[str, "os.PathLike[str]"]


@dataclass
class Run:
    """A trained run: its config, its network (final weights) and the numbers it logged."""

    config: ExperimentConfig
    network: Network
    metrics: list[dict[str, float]]               # one row per epoch, as RUN/metrics.csv
    summary: dict[str, Any] = field(default_factory=dict)   # as RUN/summary.json
    path: Optional[Path] = None                    # the run directory (None: not kept)

    @property
    def test_accuracy(self) -> float:
        """Test accuracy of the network's output after the last epoch."""
        return float(self.metrics[-1]["test_acc"])


def load_config(path: PathLike, overrides: Iterable[str] = ()) -> ExperimentConfig:
    """An experiment file (with its model and ``key=value`` overrides, as the CLI's ``--set``)
    validated into the schema; errors are :class:`~spikelocal.errors.ConfigError`."""
    return load_experiment(path, list(overrides))


def train(config: Union[ExperimentConfig, PathLike], out: Optional[PathLike] = None, *,
          overrides: Iterable[str] = (), resume: bool = False, progress: bool = False,
          device: Optional[str] = None) -> Run:
    """Train an experiment (a config, or the path of an experiment file) and return the Run.

    ``out`` is the run directory to write (never an existing run unless ``resume``); with
    ``out=None`` the run is written to a temporary directory that is removed afterwards, so
    the numbers are those of a normal run and nothing is left behind. ``device`` (``auto``,
    ``cpu``, ``cuda``, ``cuda:N``) replaces the config's ``training.device``. Training
    flushes subnormal floats to zero and restores the caller's setting afterwards
    (:func:`spikelocal.devices.subnormals_flushed`).
    """
    if not isinstance(config, ExperimentConfig):
        config = load_config(config, [*overrides, *([f"training.device={device}"] if device else [])])
    elif overrides:
        raise ValueError("overrides apply to an experiment file; edit the config object instead")
    elif device is not None:
        resolve_device(device)   # a bad name: one-line ConfigError, as from a file
        config = config.model_copy(update={"training": config.training.model_copy(update={"device": device})})
    if out is not None:
        run_experiment(config, Path(out), resume=resume, progress=progress)
        distributed.barrier()   # under torchrun every rank reads what rank 0 wrote
        return load_run(out)
    if resume:
        raise ValueError("resume needs the run directory (out=...)")
    with tempfile.TemporaryDirectory(prefix="spikelocal-run-") as tmp:
        run_experiment(config, Path(tmp) / "run", progress=progress)
        result = load_run(Path(tmp) / "run")
    result.path = None
    return result


def load_run(path: PathLike, device: Optional[str] = None) -> Run:
    """The :class:`Run` of a run directory (its config, final network, metrics, summary).

    The network is on the CPU, or on ``device`` (a run trained on a GPU loads anywhere)."""
    path = Path(path)
    config, network = rundir.load_network(path)
    if device is not None:
        network.to(resolve_device(device, "device"))
    summary: dict[str, Any] = {}
    if (path / rundir.SUMMARY).exists():
        try:
            summary = json.loads((path / rundir.SUMMARY).read_text())
        except (OSError, ValueError) as exc:
            raise RunDirError(f"{path / rundir.SUMMARY}: unreadable ({exc})") from None
    return Run(config, network, rundir.read_metrics(path), summary, path)


__all__ = ["Run", "load_config", "train", "load_run"]
