"""The run hook of the ``record:`` and ``plots:`` sections.

At the end of each chosen epoch it records the test samples (after that epoch's
evaluation, with that epoch's weights) into ``RUN/recordings/epoch_EEE.h5`` and writes the
per-neuron statistics beside it (``epoch_EEE_neurons.csv``); at the end of the run it adds
the statistics of the last recording to summary.json (key ``recording``) and draws the
plots and the report asked for. A run without these sections gets no hook at all.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Optional

from ..checkpoint import atomic_write_text
from ..config import ExperimentConfig
from ..errors import SpikelocalError
from ..rundir import append_log
from ..trainer import HOOKS, RunHook, Trainer
from .recording import VARIABLES, Recording, record, recording_path, save_recording
from .stats import neuron_table, recording_stats, stats_summary


def neurons_csv_path(h5_path: Path) -> Path:
    return h5_path.with_name(h5_path.stem + "_neurons.csv")


def store_recording(rec: Recording, out: Path) -> dict[str, Any]:
    """Write the recording and its per-neuron table; return the summary.json block."""
    path = save_recording(rec, recording_path(out, rec.epoch))
    stats = recording_stats(rec)
    atomic_write_text(neurons_csv_path(path), neuron_table(stats))
    block = stats_summary(rec, stats)
    block["file"] = str(path.relative_to(out))
    return block


class AnalysisHook(RunHook):
    def __init__(self, config: ExperimentConfig) -> None:
        self.config = config
        self.last: Optional[Recording] = None
        self.last_block: Optional[dict[str, Any]] = None

    def _records(self, epoch: int) -> bool:
        cfg = self.config.record
        if cfg is None or cfg.samples == 0:
            return False
        if cfg.epochs == "all":
            return True
        if cfg.epochs == "last":
            return epoch == self.config.training.epochs
        return epoch in cfg.epochs

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any], out: Path) -> None:
        epoch = int(row["epoch"])
        if not self._records(epoch):
            return
        cfg = self.config.record
        data = trainer.data
        rec = record(trainer.net, self.config, data.test_x, data.test_y, cfg.samples, cfg.layers,
                     cfg.variables, epoch, data.classes)
        self.last_block = store_recording(rec, Path(out))
        self.last = rec

    def on_run_end(self, trainer: Trainer, summary: dict[str, Any], out: Path) -> None:
        if self.last_block is not None:
            summary["recording"] = self.last_block
        plots_cfg = self.config.plots
        if not plots_cfg.what and not plots_cfg.report:
            return
        from .plots import NEEDS_RECORDING, expand_names, write_plots
        from .html_report import write_report
        from .rundata import DEFAULT_SAMPLES, RunData

        data = RunData(self.config.name or Path(out).name, self.config, trainer.rows, trainer.net,
                       summary=summary, run_dir=Path(out))
        names = expand_names(plots_cfg.what, data) if plots_cfg.what else []
        rec = self.last if self._complete(self.last, trainer.epoch) else None
        wants_recording = plots_cfg.report or any(n in NEEDS_RECORDING for n in names)
        if rec is None and trainer.net.spiking and wants_recording:
            rec = record(trainer.net, self.config, trainer.data.test_x, trainer.data.test_y, DEFAULT_SAMPLES,
                         epoch=trainer.epoch, classes=trainer.data.classes)
        data.with_recording(rec)
        try:
            if names:
                write_plots(data, names, Path(out) / "plots", plots_cfg.format)
            if plots_cfg.report:
                write_report(data)
        except (SpikelocalError, OSError) as exc:
            # the training result stands; a figure that cannot be drawn is reported, not fatal
            message = f"plots: {exc}; draw them later with 'spikelocal plot {out}'"
            warnings.warn(message, stacklevel=1)
            append_log(Path(out), message)

    def _complete(self, rec: Optional[Recording], epoch: int) -> bool:
        """Whether the last recording is of the final weights with every variable of every
        spiking layer (else the plots get a fresh in-memory recording)."""
        cfg = self.config.record
        return (rec is not None and rec.epoch == epoch and cfg.layers is None
                and set(cfg.variables) == set(VARIABLES))


@HOOKS.register("analysis")
def make_hook(config: ExperimentConfig) -> Optional[AnalysisHook]:
    recording = config.record is not None and config.record.samples > 0
    if not recording and not config.plots.what and not config.plots.report:
        return None
    return AnalysisHook(config)
