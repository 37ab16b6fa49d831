"""Training and test conditions beyond clean data: global magnitude pruning and input noise.

Pruning (Gupta et al., "Is bio-inspired learning better than backprop?", arXiv 2212.04614,
after the global magnitude pruning baseline of Blalock et al., MLSys 2020): the weights of
all layers are ranked together by |w| and the smallest fraction ``s`` is removed,

    keep_i = |w_i| > |w|_(k),   k = floor(s * N),  N = number of weights of all layers,

except that each layer l keeps at least ceil(min_per_layer * N_l) of its largest weights (so
no layer is cut off). Biases and the fixed random readouts G are never pruned.

Test noise, drawn from its own generator so that the clean evaluation is unchanged:

    pixels:  x' = clip(x + sigma * n, 0, 1),   n ~ N(0, 1)          (before encoding)
    spikes:  s'[t] = s[t] * (u >= p_del)                            (deletion)
             s'[t] = s'[t + d], d ~ U{-j..j}, clipped to [0, T-1]   (jitter, per spike)
             s'[t] = max(s'[t], v < p_ins)                          (insertion)

applied in that order; u, v ~ U(0, 1) per input neuron and step. Everything is done by one
:class:`~spikelocal.trainer.RunHook` (``prune`` and ``noise`` sections of the experiment) that
adds its figures to ``summary.json``:

- ``pruned_test_accuracy``, ``prune_sparsity`` (the sparsity reached), and in ``retrain``
  mode ``unpruned_test_accuracy`` and ``pruned_test_accuracy_before_retrain``;
- ``noisy_test_accuracy`` (of the pruned network when pruning is on);
- ``condition_test_accuracy``: the accuracy under all the run's conditions at once, the
  figure a sweep compares.
"""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Optional

import torch
from torch import Tensor

from . import seeds
from .config import ExperimentConfig, NoiseConfig
from .core.network import Network, simulate
from .data import ENCODERS, batch_generator, encode, to_unit
from .trainer import HOOKS, RunHook, evaluate
from .checkpoint import atomic_write_text

if TYPE_CHECKING:
    from .trainer import Trainer

PRUNE_FILE = "prune.json"


# ---------------------------------------------------------------- pruning -------------
def layer_weights(net: Network) -> list[Tensor]:
    """The prunable weights: the synaptic matrix (or kernel) of every layer."""
    return [layer.weight for layer in net.layers]


def magnitude_masks(weights: list[Tensor], sparsity: float, min_per_layer: float) -> list[Tensor]:
    """Boolean keep-masks of global magnitude pruning (see the module docstring)."""
    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    flat = torch.cat([w.detach().abs().flatten() for w in weights])
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    n_prune = int(math.floor(sparsity * flat.numel()))
    if n_prune:
        keep[torch.argsort(flat, stable=True)[:n_prune]] = False
    masks = []
    start = 0
    for w in weights:
        n = w.numel()
        mask = keep[start:start + n].clone()
        start += n
        least = min(n, math.ceil(min_per_layer * n))
        if int(mask.sum()) < least:
            mask[torch.topk(w.detach().abs().flatten(), least).indices] = True
        masks.append(mask.view_as(w))
    return masks


@torch.no_grad()
def apply_masks(weights: list[Tensor], masks: list[Tensor]) -> None:
    for w, m in zip(weights, masks):
        w.mul_(m)


def sparsity_of(weights: list[Tensor]) -> float:
    """The fraction of exactly-zero weights over all layers."""
    total = sum(w.numel() for w in weights)
    return float(sum(int((w == 0).sum()) for w in weights)) / total


def prune_network(net: Network, sparsity: float, min_per_layer: float) -> list[Tensor]:
    """Prune ``net`` in place; return the masks."""
    weights = layer_weights(net)
    masks = magnitude_masks(weights, sparsity, min_per_layer)
    apply_masks(weights, masks)
    return masks


# ---------------------------------------------------------------- noise ---------------
def gaussian_pixels(x: Tensor, sigma: float, gen: torch.Generator) -> Tensor:
    """Pixels in [0, 1] plus N(0, sigma^2) noise, clipped back to [0, 1]."""
    if not sigma:
        return x
    return (x + sigma * torch.randn(x.shape, generator=gen).to(x.device)).clamp_(0.0, 1.0)


def spike_noise(spikes: Tensor, noise: NoiseConfig, gen: torch.Generator) -> Tensor:
    """Deletion, jitter and insertion on a whole spike train ``[T, B, ...]`` (0/1 values)."""
    s = spikes
    if noise.spike_deletion:
        s = s * (torch.rand(s.shape, generator=gen).to(s.device) >= noise.spike_deletion)
    if noise.jitter:
        idx = s.nonzero(as_tuple=True)
        shift = torch.randint(-noise.jitter, noise.jitter + 1, (idx[0].numel(),), generator=gen).to(s.device)
        moved = torch.zeros_like(s)
        moved[((idx[0] + shift).clamp_(0, s.shape[0] - 1), *idx[1:])] = 1.0
        s = moved
    if noise.spike_insertion:
        s = torch.maximum(s, (torch.rand(s.shape, generator=gen).to(s.device) < noise.spike_insertion).to(s.dtype))
    return s


def noisy_chunks(config: ExperimentConfig, x_uint8: Any, enc_gen: torch.Generator,
                 noise_gen: torch.Generator) -> Iterator[Tensor]:
    """The test input of one batch (uint8 pixels, or recorded event frames) with noise applied."""
    data, noise = config.data, config.noise
    if isinstance(x_uint8, Tensor):
        x = gaussian_pixels(to_unit(x_uint8), noise.gaussian, noise_gen)
        chunks = ENCODERS.get(data.encoding)(x, data.steps, config.training.time_chunk, data.gain, enc_gen)
    else:  # recorded events: already spikes
        chunks = encode(config, x_uint8, enc_gen)
    if not noise.spike_noise:
        yield from chunks
        return
    train = spike_noise(torch.cat(list(chunks)), noise, noise_gen)
    yield from torch.split(train, config.training.time_chunk)


def evaluate_noisy(net: Network, config: ExperimentConfig, x: Tensor, y: Tensor) -> float:
    """Output accuracy on (x, y) under ``config.noise``; the encoding draws match :func:`evaluate`."""
    bs = config.training.eval_batch_size
    correct = 0
    for i, start in enumerate(range(0, len(x), bs)):
        enc_gen = batch_generator(config.seed + seeds.TEST_ENCODING, 0, i)
        noise_gen = batch_generator(config.seed + seeds.CONDITION_NOISE, 0, i)
        result = simulate(net, noisy_chunks(config, x[start:start + bs], enc_gen, noise_gen))
        correct += int((result.logits[-1].argmax(1) == y[start:start + bs]).sum())
    return correct / len(x)


# ---------------------------------------------------------------- the hook ------------
class ConditionsHook(RunHook):
    """Prune masks during retraining, and the pruned / noisy evaluations at the end."""

    def __init__(self, config: ExperimentConfig) -> None:
        self.config = config
        prune = config.prune
        self.prune_epoch: Optional[int] = (
            config.training.epochs - prune.retrain_epochs if prune.sparsity and prune.mode == "retrain" else None
        )
        self.masks: Optional[list[Tensor]] = None

    def on_resume(self, trainer: "Trainer") -> None:
        if self.prune_epoch is not None and trainer.epoch >= self.prune_epoch:
            # pruned weights are held at exactly zero, so the checkpoint carries the mask
            self.masks = [w.detach() != 0 for w in layer_weights(trainer.net)]

    def on_step_end(self, trainer: "Trainer") -> None:
        if self.masks is not None:
            apply_masks(layer_weights(trainer.net), self.masks)

    def on_epoch_end(self, trainer: "Trainer", row: dict[str, Any], out: Path) -> None:
        if self.prune_epoch is None or trainer.epoch != self.prune_epoch:
            return
        prune = self.config.prune
        self.masks = prune_network(trainer.net, prune.sparsity, prune.min_per_layer)
        data = trainer.data
        pruned = evaluate(trainer.net, self.config, data.test_x, data.test_y).accuracy[-1]
        record = {"epoch": trainer.epoch, "unpruned_test_accuracy": row["test_acc"],
                  "pruned_test_accuracy_before_retrain": pruned,
                  "prune_sparsity": sparsity_of(layer_weights(trainer.net))}

        atomic_write_text(out / PRUNE_FILE, json.dumps(record, indent=2) + "\n")

    def on_run_end(self, trainer: "Trainer", summary: dict[str, Any], out: Path) -> None:
        config, data = self.config, trainer.data
        net = trainer.net
        accuracy = summary["test_accuracy"]
        if config.prune.sparsity and config.prune.mode == "after":
            net = copy.deepcopy(trainer.net)
            prune_network(net, config.prune.sparsity, config.prune.min_per_layer)
            accuracy = evaluate(net, config, data.test_x, data.test_y).accuracy[-1]
            summary["pruned_test_accuracy"] = accuracy
            summary["prune_sparsity"] = sparsity_of(layer_weights(net))
        elif config.prune.sparsity:
            record = json.loads((out / PRUNE_FILE).read_text())
            summary["unpruned_test_accuracy"] = record["unpruned_test_accuracy"]
            summary["pruned_test_accuracy_before_retrain"] = record["pruned_test_accuracy_before_retrain"]
            summary["pruned_test_accuracy"] = accuracy
            summary["prune_sparsity"] = sparsity_of(layer_weights(net))
        if config.noise.active:
            accuracy = evaluate_noisy(net, config, data.test_x, data.test_y)
            summary["noisy_test_accuracy"] = accuracy
        summary["condition_test_accuracy"] = accuracy


@HOOKS.register("conditions")
def _conditions_hook(config: ExperimentConfig) -> Optional[RunHook]:
    if not config.prune.sparsity and not config.noise.active:
        return None
    return ConditionsHook(config)
