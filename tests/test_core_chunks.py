"""Memory settings never change results: the chunk length (``training.time_chunk``) only
says how many steps share one batched product, so two chunk lengths train to the same
weights; the loss window (``rule.window``) is what changes the maths."""
from __future__ import annotations

import pytest
import torch

from spikelocal.data import load_dataset
from spikelocal.trainer import Trainer

from conftest import tiny_config


def _train(rule: dict, chunk: int, conv: bool = False) -> tuple[list[torch.Tensor], dict]:
    """Weights after three batches of 32, and the epoch's logged accuracy and loss per layer."""
    config = tiny_config(conv=conv, rule=rule, training__time_chunk=chunk, training__epochs=1,
                         data__synthetic__n_train=96, data__steps=8)
    torch.set_num_threads(1)
    trainer = Trainer(config, load_dataset(config.data, config.seed))
    logged = trainer.train_epoch(progress=False)
    return [p.detach().clone() for p in trainer.net.parameters()], logged


def _weights_after_training(rule: dict, chunk: int, conv: bool = False) -> list[torch.Tensor]:
    return _train(rule, chunk, conv)[0]


@pytest.mark.parametrize("rule", [
    {"name": "local"}, {"name": "local", "window": "step"}, {"name": "local", "window": 3},
    {"name": "bp"}, {"name": "fa", "window": 2}, {"name": "dfa"},
])
def test_two_chunk_lengths_give_the_same_weights(rule):
    reference, logged = _train(rule, chunk=8)
    for chunk in (3, 1):
        weights, other = _train(rule, chunk)
        for got, want in zip(weights, reference):
            torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
        assert other["acc"] == logged["acc"]          # the logged metrics do not move either
        assert other["loss"] == pytest.approx(logged["loss"], rel=1e-6)


def test_conv_chunk_lengths_give_the_same_weights():
    reference = _weights_after_training({"name": "local"}, chunk=8, conv=True)
    for got, want in zip(_weights_after_training({"name": "local"}, chunk=5, conv=True), reference):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_the_loss_window_changes_the_update():
    """The window is maths, not memory: a per-step loss trains to other weights."""
    sample = _weights_after_training({"name": "local"}, chunk=8)
    step = _weights_after_training({"name": "local", "window": "step"}, chunk=8)
    assert any((a - b).abs().max() > 1e-4 for a, b in zip(sample, step))
