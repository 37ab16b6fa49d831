"""The trainer: ``run(config, out_dir)`` trains one experiment into one run directory.

One seed drives everything: weights and readouts (``Network``), the shuffling of epoch e
and the encoding of batch i are drawn from generators seeded by (seed, e, i), so a run
resumed from the checkpoint of epoch e replays epochs e+1... exactly as an uninterrupted
run would. Per epoch the trainer logs train and test accuracy of the output and of every
layer's fixed readout, the local losses and the mean firing rate of each layer.
"""
from __future__ import annotations

import importlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import torch
from torch import Tensor
from tqdm import tqdm

from . import budget, distributed, rundir, seeds
from .checkpoint import check_shapes, load_checkpoint, optimizer_state, optimizer_tensors, save_checkpoint
from .config import ExperimentConfig, TrainingConfig
from .data import Dataset, EventFrames, batch_generator, decision_start, encode, load_dataset, validation_split
from .devices import compute_dtype, resolve_device, subnormals_flushed
from .errors import RunDirError, RunFailed
from .core.network import Network, simulate
from .health import training_warnings
from .registry import Registry
from .rules import RULES
from .rules.base import BatchResult, Rule, zero_grads

class RunHook:
    """Optional work around training (recording, diagnostics, pruning masks...).

    A feature registers a factory in :data:`HOOKS` that looks at the config and returns a
    hook, or None when its section is off; the trainer then calls the hook at these points
    and pays nothing for features that are off.
    """

    def on_resume(self, trainer: "Trainer") -> None:
        """After a checkpoint is loaded, before training goes on (e.g. recover a pruning mask)."""

    def on_step_end(self, trainer: "Trainer") -> None:
        """After every optimiser step (e.g. re-apply a pruning mask)."""

    def on_epoch_end(self, trainer: "Trainer", row: dict[str, Any], out: Path) -> None:
        """After the epoch's evaluation; may add columns to ``row`` (metrics.csv)."""

    def on_run_end(self, trainer: "Trainer", summary: dict[str, Any], out: Path) -> None:
        """After the last epoch; may add keys to ``summary`` (summary.json)."""


HookFactory = Callable[[ExperimentConfig], Optional[RunHook]]
HOOKS: Registry[HookFactory] = Registry("run hook")
#: modules whose import registers hooks (one line per feature)
HOOK_MODULES: tuple[str, ...] = (
    "spikelocal.conditions",
    "spikelocal.diagnostics",
    "spikelocal.analysis.hook",
    "spikelocal.predictive_coding_hook",
)


def build_hooks(config: ExperimentConfig) -> list[RunHook]:
    for module in HOOK_MODULES:
        importlib.import_module(module)
    hooks = [HOOKS.get(name)(config) for name in HOOKS.names()]
    return [hook for hook in hooks if hook is not None]


def build_optimizer(net: Network, cfg: TrainingConfig) -> torch.optim.Optimizer:
    params = [p for p in net.parameters() if p.requires_grad]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamax":
        return torch.optim.Adamax(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def build_scheduler(opt: torch.optim.Optimizer, cfg: TrainingConfig):
    if cfg.schedule.kind == "step":
        return torch.optim.lr_scheduler.StepLR(opt, cfg.schedule.step_size, cfg.schedule.gamma)
    if cfg.schedule.kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)


@dataclass
class Evaluation:
    accuracy: list[float]      # per layer readout accuracy (last = the network's output)
    rate: list[float]          # per layer mean spikes per neuron per step (activity for rate nets)


def evaluate(net: Network, config: ExperimentConfig, x: Tensor, y: Tensor) -> Evaluation:
    """Accuracy of every layer's readout and mean activity on (x, y); same encoding every call.

    Runs on the network's device. Under torchrun every process evaluates the whole set on its
    own (no collective operation, so a hook may call this on rank 0 alone)."""
    bs = config.training.eval_batch_size
    device = net.layers[0].weight.device
    correct = torch.zeros(len(net.layers), device=device)
    spikes = torch.zeros(len(net.layers), dtype=torch.float64, device=device)
    steps = config.data.steps
    for i, start in enumerate(range(0, len(x), bs)):
        gen = batch_generator(config.seed + seeds.TEST_ENCODING, 0, i)
        batch = x[start:start + bs]
        if isinstance(batch, Tensor):
            batch = batch.to(device, non_blocking=True)
        result = simulate(net, encode(config, batch, gen, device), decision_start(config.data))
        target = y[start:start + bs].to(device, non_blocking=True)
        for l, logits in enumerate(result.logits):
            correct[l] += (logits.argmax(1) == target).sum()
            spikes[l] += result.spike_counts[l].sum()
    neurons = torch.tensor([layer.num_neurons for layer in net.layers], dtype=torch.float64, device=device)
    rate = (spikes / (len(x) * steps * neurons)).float()
    return Evaluation((correct / len(x)).tolist(), rate.tolist())


def _take(x: Tensor | EventFrames, idx: Any) -> Tensor | EventFrames:
    return x[torch.from_numpy(idx)] if isinstance(x, Tensor) else x[idx]


class Trainer:
    """Holds the network, rule and optimiser of one run and trains it epoch by epoch."""

    def __init__(self, config: ExperimentConfig, data: Dataset) -> None:
        self.config = config
        #: held-out training images for early stopping (training.early_stopping), else None
        self.val: Optional[tuple[Any, Tensor]] = None
        self.best_epoch, self.best_val = 0, -1.0
        self.best_state: Optional[dict[str, Tensor]] = None
        stopping = config.training.early_stopping
        if stopping.patience:
            keep, held = validation_split(data.train_y.numpy(), stopping.validation_fraction, config.seed)
            self.val = (_take(data.train_x, held), data.train_y[torch.from_numpy(held)])
            data = Dataset(_take(data.train_x, keep), data.train_y[torch.from_numpy(keep)],
                           data.test_x, data.test_y, data.classes)
        self.data = data
        torch.manual_seed(config.seed + seeds.WEIGHTS)
        self.device = resolve_device(config.training.device)
        # weights are drawn on the CPU (same seed, same weights on every device), then moved
        self.net = Network.from_config(config.network, data.input_shape, len(data.classes), config.seed)
        self.net.to(self.device).set_precision(compute_dtype(config.training.precision))
        if self.device.type != "cpu" and isinstance(data.train_x, Tensor):
            # the images (uint8) live on the device too: a batch is gathered and encoded there
            data = Dataset(data.train_x.to(self.device), data.train_y.to(self.device),
                           data.test_x.to(self.device) if isinstance(data.test_x, Tensor) else data.test_x,
                           data.test_y.to(self.device), data.classes)
            self.data = data
        self.rule: Rule = RULES.get(config.rule.name)(self.net, config.rule, config.seed)
        self.rule.score_from = decision_start(config.data)
        if hasattr(self.rule, "memory_budget_mb"):
            self.rule.memory_budget_mb = config.training.memory_budget_mb
        self.optimizer = build_optimizer(self.net, config.training)
        self.scheduler = build_scheduler(self.optimizer, config.training)
        if hasattr(self.rule, "apply_update"):  # e-prop's per-chunk updates step the optimiser itself
            self.rule.apply_update = self.optimizer.step
        self.hooks: list[RunHook] = build_hooks(config)
        self.epoch = 0
        self.rows: list[dict[str, Any]] = []
        self.train_seconds = 0.0

    # -- checkpoints ---------------------------------------------------------------------
    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        tensors = {f"net.{k}": v for k, v in self.net.state_dict().items()}
        opt_tensors, opt_meta = optimizer_tensors(self.optimizer.state_dict())
        tensors.update(opt_tensors)
        tensors.update({f"rule.{k}": v for k, v in self.rule.state_tensors().items()})
        if self.best_state is not None:
            tensors.update({f"best.{k}": v for k, v in self.best_state.items()})
        meta = {"epoch": self.epoch, "rows": self.rows, "train_seconds": self.train_seconds,
                "optimizer": opt_meta, "scheduler": self.scheduler.state_dict(),
                "best_epoch": self.best_epoch, "best_val": self.best_val}
        return tensors, meta

    def load_state(self, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
        self.net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        self.optimizer.load_state_dict(optimizer_state(tensors, meta["optimizer"]))
        self.rule.load_state_tensors({k[5:]: v for k, v in tensors.items() if k.startswith("rule.")})
        self.scheduler.load_state_dict(meta["scheduler"])
        self.epoch, self.rows = meta["epoch"], meta["rows"]
        self.train_seconds = meta["train_seconds"]
        self.best_epoch, self.best_val = meta.get("best_epoch", 0), meta.get("best_val", -1.0)
        best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
        self.best_state = best or None
        for hook in self.hooks:
            hook.on_resume(self)

    # -- early stopping ------------------------------------------------------------------
    def note_validation(self, row: dict[str, Any]) -> None:
        """Score the held-out images; keep a copy of the weights of the best epoch so far."""
        if self.val is None:
            return
        row["val_acc"] = evaluate(self.net, self.config, *self.val).accuracy[-1]
        if row["val_acc"] > self.best_val:
            self.best_val, self.best_epoch = row["val_acc"], self.epoch
            self.best_state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    def stale(self) -> bool:
        """True once ``patience`` epochs in a row brought no better validation accuracy."""
        patience = self.config.training.early_stopping.patience
        return bool(patience) and self.epoch - self.best_epoch >= patience

    # -- one epoch -----------------------------------------------------------------------
    def train_epoch(self, progress: bool) -> dict[str, float]:
        cfg, data, net = self.config, self.data, self.net
        epochs = cfg.training.epochs
        active = self.rule.active_layers(self.epoch, epochs)
        n, bs = len(data.train_x), cfg.training.batch_size
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seeds.shuffle_seed(cfg.seed, self.epoch)))
        if isinstance(data.train_x, Tensor):
            order = order.to(data.train_x.device)
        layers = len(net.layers)
        device = self.device
        correct = torch.zeros(layers, device=device)
        loss_sum = torch.zeros(layers, dtype=torch.float64, device=device)
        params = [p for p in net.parameters() if p.requires_grad]
        batches = range(0, n, bs)
        bar = tqdm(batches, desc=f"epoch {self.epoch + 1}/{epochs}", disable=not progress,
                   leave=False, unit="batch")
        for i, start in enumerate(bar):
            idx = order[start:start + bs]
            # every process encodes the whole global batch (the same spikes as one process)
            # and keeps its slice of it (see spikelocal.distributed)
            part = distributed.shard(len(idx))
            chunks = encode(cfg, data.train_x[idx], batch_generator(cfg.seed, self.epoch, i), device)
            y = data.train_y[idx].to(device)
            if distributed.active():
                chunks, y = distributed.shard_chunks(chunks, part), y[part]
            if len(y):
                result: Optional[BatchResult] = self.rule.compute_updates(chunks, y, active)
                losses = result.losses
            else:  # a last global batch smaller than the world: no samples for this process
                zero_grads(net)
                result, losses = None, [0.0] * layers
            if distributed.active():
                reduced = distributed.average_grads(params, len(y), len(idx),
                                                    torch.tensor(losses, dtype=torch.float64, device=device))
                losses = reduced.tolist()
            if not all(math.isfinite(v) for v in losses):
                bad = next(l for l, v in enumerate(losses) if not math.isfinite(v))
                raise RunFailed(f"epoch {self.epoch + 1}, batch {i + 1}: the local loss of layer {bad + 1} "
                                f"is {losses[bad]}; lower training.lr")
            self.optimizer.step()
            for hook in self.hooks:
                hook.on_step_end(self)
            for l in range(layers if result is not None else 0):
                correct[l] += (result.logits[l].argmax(1) == y).sum()
                loss_sum[l] += result.losses[l] * len(y)
            if progress and result is not None and i % 20 == 0:
                bar.set_postfix(loss=f"{result.losses[-1]:.3f}", acc=f"{float(correct[-1]) / (start + len(y)):.3f}")
        self.scheduler.step()
        distributed.sum_(correct)
        distributed.sum_(loss_sum)
        return {"acc": (correct / n).tolist(), "loss": (loss_sum / n).tolist()}

    def epoch_row(self, train: dict[str, Any], test: Evaluation, seconds: float) -> dict[str, Any]:
        row: dict[str, Any] = {
            "epoch": self.epoch, "lr": self.optimizer.param_groups[0]["lr"],
            "train_loss": train["loss"][-1], "train_acc": train["acc"][-1], "test_acc": test.accuracy[-1],
        }
        for l in range(len(self.net.layers)):
            row[f"layer{l + 1}_train_acc"] = train["acc"][l]
            row[f"layer{l + 1}_test_acc"] = test.accuracy[l]
            row[f"layer{l + 1}_loss"] = train["loss"][l]
            row[f"layer{l + 1}_rate"] = test.rate[l]
        row["epoch_seconds"] = seconds
        row["train_seconds"] = self.train_seconds
        return row


def _without_device(config: dict[str, Any]) -> dict[str, Any]:
    """A config's dict without ``training.device``: a run may resume on another device."""
    training = {k: v for k, v in config.get("training", {}).items() if k != "device"}
    return {**config, "training": training}


def check_state(path: Path, trainer: Trainer, tensors: dict[str, Tensor]) -> None:
    """A checkpoint whose network or rule tensors do not fit the config: one line naming them."""
    net = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
    check_shapes(path, trainer.net.state_dict(), net, "network")
    rule = {k[5:]: v for k, v in tensors.items() if k.startswith("rule.")}
    check_shapes(path, trainer.rule.state_tensors(), rule, "rule", names=False)


def run(config: ExperimentConfig, out_dir: Optional[Path] = None, resume: bool = False,
        progress: bool = True) -> dict[str, Any]:
    """Train ``config`` into ``out_dir`` (a new run, or ``resume`` an interrupted one).

    Subnormal floats are flushed to zero for the run (weight decay makes subnormal weights,
    about 100x slower; :func:`spikelocal.devices.flush_subnormals`) and the caller's setting
    is restored afterwards."""
    with subnormals_flushed():
        return _run(config, out_dir, resume, progress)


def _run(config: ExperimentConfig, out_dir: Optional[Path], resume: bool, progress: bool) -> dict[str, Any]:
    """The body of :func:`run`."""
    out = Path(out_dir) if out_dir is not None else rundir.default_out(config)
    distributed.init(resolve_device(config.training.device))
    main = distributed.is_main()   # only rank 0 writes the run directory
    budget.check_seed(config.seed)
    budget.check_memory(budget.workload(config, budget.dataset_samples(config)))
    threads = budget.capped_threads(config.training.threads)
    if threads:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if resume:
        stored = rundir.open_run(out)
        if _without_device(stored.to_dict()) != _without_device(config.to_dict()):
            raise RunDirError(f"{out}: holds a run of a different configuration; resume it with the same "
                              "experiment and --set values, or choose another --out")
        epoch = rundir.read_status(out).get("epoch", 0)
        if not (out / rundir.CHECKPOINT).exists() and (epoch or (out / rundir.METRICS).exists()):
            raise RunDirError(f"{out / rundir.CHECKPOINT}: missing, but the run finished {epoch} epochs; "
                              "--resume will not start it again from scratch (restore the checkpoint, or "
                              "start a new run with another --out)")
    data = load_dataset(config.data, config.seed)
    trainer = Trainer(config, data)
    if resume and (out / rundir.CHECKPOINT).exists():
        tensors, meta = load_checkpoint(out / rundir.CHECKPOINT)
        check_state(out / rundir.CHECKPOINT, trainer, tensors)
        trainer.load_state(tensors, meta)
    elif not resume and main:
        rundir.prepare_new(out, config)
        rundir.write_data_spec(out, data.input_shape, len(data.classes))
    if main and threads is not None and threads != config.training.threads:
        rundir.append_log(out, f"training.threads {config.training.threads} capped at the {threads} cores available")
    if main and (trainer.device.type != "cpu" or distributed.world() > 1):
        rundir.append_log(out, f"device {trainer.device}, precision {config.training.precision}, "
                               f"{distributed.world()} process(es)")
    progress = progress and config.training.progress
    try:
        while trainer.epoch < config.training.epochs and not trainer.stale():
            t0 = time.perf_counter()
            train = trainer.train_epoch(progress)
            trainer.train_seconds += time.perf_counter() - t0
            params_ok = all(torch.isfinite(p).all() for p in trainer.net.parameters())
            if not params_ok:
                raise RunFailed(f"epoch {trainer.epoch + 1}: weights became NaN or infinite; lower training.lr")
            test = evaluate(trainer.net, config, trainer.data.test_x, trainer.data.test_y)
            row = trainer.epoch_row(train, test, time.perf_counter() - t0)
            trainer.epoch += 1
            row["epoch"] = trainer.epoch
            trainer.note_validation(row)
            for hook in trainer.hooks if main else ():
                hook.on_epoch_end(trainer, row, out)
            trainer.rows.append(row)
            if not main:
                continue
            save_checkpoint(out / rundir.CHECKPOINT, *trainer.state())
            rundir.write_metrics(out, trainer.rows)
            rundir.write_status(out, "running", trainer.epoch)
            line = (f"epoch {trainer.epoch}/{config.training.epochs}  train_acc {row['train_acc']:.4f}  "
                    f"test_acc {row['test_acc']:.4f}  readouts " +
                    " ".join(f"{a:.3f}" for a in test.accuracy[:-1]) + f"  {row['epoch_seconds']:.1f}s")
            rundir.append_log(out, line)
            if progress:
                tqdm.write(line)
    except RunFailed as exc:
        if main:
            rundir.append_log(out, f"failed: {exc}")
            rundir.write_status(out, "failed", trainer.epoch, error=str(exc))
        raise
    last = trainer.rows[-1]
    if trainer.best_state is not None:   # early stopping: the best validation epoch's network
        trainer.net.load_state_dict(trainer.best_state)
        last = trainer.rows[trainer.best_epoch - 1]
        if main:   # the run directory's network is the one the summary scores
            save_checkpoint(out / rundir.CHECKPOINT, *trainer.state())
    summary = {
        "name": config.name, "rule": config.rule.name, "dataset": config.data.dataset,
        "test_accuracy": last["test_acc"], "train_accuracy": last["train_acc"],
        "layer_test_accuracy": [last[f"layer{l + 1}_test_acc"] for l in range(len(trainer.net.layers))],
        "layer_rate": [last[f"layer{l + 1}_rate"] for l in range(len(trainer.net.layers))],
        "best_test_accuracy": max(r["test_acc"] for r in trainer.rows),
        "epochs": trainer.epoch, "train_seconds": trainer.train_seconds,
        "train_samples": len(trainer.data.train_x), "test_samples": len(data.test_x),
        "threads": torch.get_num_threads(),
        "device": str(trainer.device), "precision": config.training.precision,
        "world_size": distributed.world(),
    }
    if trainer.val is not None:
        summary.update(best_epoch=trainer.best_epoch, val_accuracy=trainer.best_val,
                       validation_samples=len(trainer.val[1]))
    summary["run_dir"] = str(out)
    if not main:
        return summary
    for hook in trainer.hooks:
        hook.on_run_end(trainer, summary, out)
    summary.pop("run_dir")
    summary["warnings"] = training_warnings(trainer.rows, len(data.classes), len(data.test_x))
    for warning in summary["warnings"]:
        rundir.append_log(out, f"warning: {warning}")
    rundir.write_summary(out, summary)
    rundir.write_status(out, "finished", trainer.epoch)
    summary["run_dir"] = str(out)
    return summary
