"""The paper-setting SoftHebb script: its block schedule and one Hebbian step's direction."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "softhebb_random_control.py"


def _load():
    spec = importlib.util.spec_from_file_location("softhebb_random_control", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_width_schedule_follows_the_paper() -> None:
    bench = _load()
    specs = bench.layer_specs(3, 1.0)
    assert [s["c"] for s in specs] == [96, 384, 1536]
    assert [s["cin"] for s in specs] == [1, 96, 384]
    assert [s["k"] for s in specs] == [5, 3, 3]
    assert [s["c"] for s in bench.layer_specs(3, 0.25)] == [24, 96, 384]


def test_hebbian_step_moves_norms_towards_one_and_features_have_the_pooled_shape() -> None:
    bench = _load()
    torch.manual_seed(0)
    stack = bench.HebbianStack(bench.layer_specs(3, 0.05))
    images = (torch.rand(20, 1, 28, 28) * 255).to(torch.uint8)
    before = stack.weights[0].flatten(1).norm(dim=1)
    stack.fit_statistics(0, images)
    for _ in range(5):
        stack.hebbian_step(0, stack.block_input(images[:10].float() / 255.0, 0))
    after = stack.weights[0].flatten(1).norm(dim=1)
    assert (after - 1).abs().mean() < (before - 1).abs().mean()
    stack.fit_statistics(1, images)
    stack.fit_statistics(2, images)
    assert stack.features(images[:2], 3).shape == (2, 77, 3, 3)


def test_gaussian_filters_start_apart_and_positive_ones_start_parallel() -> None:
    """The paper's zero-mean init gives the soft WTA distinct filters to compete; the
    positive reading starts them nearly parallel (why its upper blocks hardly learn)."""
    bench = _load()
    torch.manual_seed(0)
    spec = bench.layer_specs(2, 0.25)[1]

    def mean_cosine(w: torch.Tensor) -> float:
        unit = torch.nn.functional.normalize(w.flatten(1), dim=1)
        cos = unit @ unit.T
        return ((cos.sum() - cos.diagonal().sum()) / (cos.numel() - len(cos))).item()

    gaussian = bench.initial_filters(spec, "gaussian")
    assert abs(gaussian.mean().item()) < 0.05 * gaussian.abs().mean().item()
    assert abs(mean_cosine(gaussian)) < 0.05
    assert mean_cosine(bench.initial_filters(spec, "positive")) > 0.7
    expected = bench.INIT_RADIUS * (torch.pi / 2) ** 0.5
    assert abs(gaussian.flatten(1).norm(dim=1).mean().item() - expected) < 0.05 * expected
