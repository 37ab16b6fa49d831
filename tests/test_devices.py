"""Device selection, bf16 products on the CPU, runs that resume or load on another device."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import spikelocal as sl
from spikelocal.cli import main
from spikelocal.core.layers import Layer
from spikelocal.devices import compute_dtype, resolve_device
from spikelocal.errors import ConfigError
from spikelocal.trainer import run

from conftest import tiny_config

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_resolve_device_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ConfigError, match="training.device: 'cuda' asked for.*no CUDA device"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match="expected auto, cpu, cuda or cuda:N"):
        resolve_device("gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ConfigError, match="there are 2 CUDA devices"):
        resolve_device("cuda:2")
    monkeypatch.setenv("LOCAL_RANK", "1")        # under torchrun: the process's own GPU
    assert resolve_device("cuda") == torch.device("cuda", 1)


def test_config_rejects_unknown_device_and_precision() -> None:
    with pytest.raises(ConfigError, match="training.device"):
        tiny_config(training__device="gpu0")
    with pytest.raises(ConfigError, match="training.precision"):
        tiny_config(training__precision="fp16")
    assert compute_dtype("bf16") == torch.bfloat16 and compute_dtype("fp32") is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_cli_device_cuda_without_cuda_is_one_line_error(tmp_path: Path, capsys) -> None:
    import yaml
    from conftest import tiny_config_dict

    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config_dict()))
    assert main(["run", str(path), "--out", str(tmp_path / "r"), "--device", "cuda", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "training.device" in err and "no CUDA device" in err


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_bf16_products_keep_float32_results(kind: str) -> None:
    layer = (Layer.dense(64, 32, seed=1) if kind == "dense"
             else Layer.conv((2, 8, 8), 4, kernel=3, padding=1, seed=1))
    x = (torch.rand(5, 3, *layer.in_shape) < 0.3).float()
    state = layer.neuron.init_state((3, *layer.out_shape), torch.device("cpu"))
    ref = layer.step(x * 30, state)
    layer.compute_dtype = torch.bfloat16
    low = layer.step(x * 30, state)
    assert low.current.dtype == torch.float32 and low.membrane.dtype == torch.float32
    assert low.state[1].dtype == torch.float32
    torch.testing.assert_close(low.current, ref.current, rtol=2e-2, atol=2e-2 * ref.current.abs().max().item())
    pre = torch.rand(15, *layer.in_shape)
    delta = torch.randn(15, *layer.out_shape)
    grad = layer.weight_grad(pre, delta)
    layer.compute_dtype = None
    exact = layer.weight_grad(pre, delta)
    assert grad.dtype == torch.float32
    torch.testing.assert_close(grad, exact, rtol=3e-2, atol=3e-2 * exact.abs().max().item())


def test_bf16_training_on_cpu_learns_like_fp32(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    fp32 = run(tiny_config(), tmp_path / "fp32", progress=False)
    bf16 = run(tiny_config(training__precision="bf16"), tmp_path / "bf16", progress=False)
    assert bf16["precision"] == "bf16" and bf16["device"] == "cpu"
    assert abs(bf16["test_accuracy"] - fp32["test_accuracy"]) <= 0.05
    assert bf16["test_accuracy"] > 0.5


def test_resume_may_name_another_device(tmp_path: Path) -> None:
    """training.device is not part of what a resumed run must match (checkpoints load anywhere)."""
    torch.set_num_threads(1)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        _run_interrupted(out)
    summary = run(tiny_config(training__device="cpu"), out, resume=True, progress=False)
    assert summary["epochs"] == 3


def _run_interrupted(out: Path) -> None:
    from spikelocal import trainer as trainer_module

    original = trainer_module.Trainer.train_epoch

    def stop_in_second(self, progress):
        if self.epoch == 1:
            raise KeyboardInterrupt
        return original(self, progress)

    trainer_module.Trainer.train_epoch = stop_in_second
    try:
        run(tiny_config(), out, progress=False)
    finally:
        trainer_module.Trainer.train_epoch = original


@needs_cuda
def test_cuda_run_loads_on_cpu_and_resumes_on_cuda(tmp_path: Path) -> None:
    summary = run(tiny_config(training__device="cuda"), tmp_path / "gpu", progress=False)
    assert summary["device"].startswith("cuda")
    loaded = sl.load_run(tmp_path / "gpu", device="cpu")
    assert loaded.network.layers[0].weight.device.type == "cpu"
    on_gpu = sl.load_run(tmp_path / "gpu", device="cuda")
    assert on_gpu.network.layers[0].weight.is_cuda


@needs_cuda
def test_cuda_and_cpu_runs_reach_similar_accuracy(tmp_path: Path) -> None:
    cpu = run(tiny_config(training__device="cpu"), tmp_path / "cpu", progress=False)
    gpu = run(tiny_config(training__device="cuda"), tmp_path / "gpu", progress=False)
    assert abs(cpu["test_accuracy"] - gpu["test_accuracy"]) <= 0.1


@needs_cuda
def test_rate_encoding_on_cuda_does_not_depend_on_the_chunk() -> None:
    from spikelocal.data.encoders import rate_on_device

    x = torch.rand(64, 100, device="cuda")
    whole = torch.cat(list(rate_on_device(x, 25, 25, 1.0, seed=3)))
    for chunk in (1, 5, 10):
        assert torch.equal(torch.cat(list(rate_on_device(x, 25, chunk, 1.0, seed=3))), whole)


def test_subnormal_flush_keeps_numpy_float_limits_and_import_sets_nothing() -> None:
    """Importing spikelocal leaves the caller's floats alone; the flush (CLI, Trainer) keeps
    numpy's float limits true and quiet (numpy warns if it computes them under the flag)."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    code = ("import spikelocal; from spikelocal.devices import flush_subnormals, flushing_subnormals; "
            "print(not flushing_subnormals()); flush_subnormals(); "
            "print(flushing_subnormals()); import numpy as np; "
            "print(str(np.finfo(np.float32).smallest_subnormal) != '0.0', "
            "str(np.finfo(np.float64).smallest_subnormal) != '0.0')")
    out = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=repo, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.split() == ["True"] * 4, out.stdout + out.stderr
