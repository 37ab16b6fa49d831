"""Everything the plots and the report need from one run, gathered in one object.

A :class:`RunData` comes either from a finished run directory (:func:`load_run_data`) or,
at the end of training, from the trainer's memory (the figures are then drawn before
summary.json exists). When a run holds no recording and a figure needs one, the trained
network is recorded in memory (nothing is written into the run directory).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch

from .. import rundir
from ..config import ExperimentConfig
from ..errors import RunDirError
from ..core.network import Network
from .recording import RECORDINGS, Recording, latest_recording, load_recording, record, recording_path
from .stats import LayerStats, recording_stats
from ..data import load_dataset
from .recording import VARIABLES

DEFAULT_SAMPLES = 100


@dataclass
class RunData:
    label: str
    config: ExperimentConfig
    rows: list[dict[str, float]]
    net: Network
    recording: Optional[Recording] = None
    stats: dict[int, LayerStats] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    run_dir: Optional[Path] = None

    def with_recording(self, rec: Optional[Recording]) -> "RunData":
        self.recording = rec
        self.stats = recording_stats(rec) if rec is not None else {}
        return self


def check_run(path: Path) -> ExperimentConfig:
    """A finished run of this version with its checkpoint and metrics, else a RunDirError."""
    config = rundir.open_run(path, require_finished=True)
    for name in (rundir.CHECKPOINT, rundir.METRICS):
        if not (Path(path) / name).is_file():
            raise RunDirError(f"{path}: incomplete run directory (no {name})")
    return config


def load_run_data(path: str | Path, need_recording: bool = True, samples: int = DEFAULT_SAMPLES,
                  epoch: Optional[int] = None) -> RunData:
    """Read a finished run with its latest recording (or that of ``epoch``); record ``samples``
    test samples in memory if it has none."""
    path = Path(path)
    check_run(path)
    config, net = rundir.load_network(path)
    rows = rundir.read_metrics(path)
    if not rows:
        raise RunDirError(f"{path}: {rundir.METRICS} has no epochs")
    summary = rundir.read_summary(path)
    data = RunData(config.name or path.name, config, rows, net, summary=summary, run_dir=path)
    if epoch is not None:
        found = recording_path(path, epoch)
        if not found.is_file():
            have = sorted(int(p.stem[6:]) for p in (path / RECORDINGS).glob("epoch_*.h5"))
            raise RunDirError(f"{path}: no recording of epoch {epoch}; recorded epochs: "
                              f"{', '.join(map(str, have)) or 'none'}")
        data.with_recording(load_recording(found))
    elif need_recording and net.spiking:
        found = latest_recording(path)
        rec = load_recording(found) if found is not None else record_run(config, net, int(rows[-1]["epoch"]), samples)
        data.with_recording(rec)
    return data


def record_run(config: ExperimentConfig, net: Network, epoch: int, samples: int = DEFAULT_SAMPLES,
               layers: Optional[list[int]] = None, variables=None) -> Recording:
    """Record a trained network on its run's test set (loads the dataset)."""
    torch.set_num_threads(config.training.threads or torch.get_num_threads())
    data = load_dataset(config.data, config.seed)
    return record(net, config, data.test_x, data.test_y, samples, layers,
                  variables or VARIABLES, epoch, data.classes)
