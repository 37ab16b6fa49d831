"""The CLI as a user meets it: exit codes, one-line errors, runs never overwritten, resume
after SIGKILL reproducing the uninterrupted run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from spikelocal import rundir

from conftest import tiny_config_dict

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spikelocal", *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=300)


def _experiment(tmp_path: Path, **overrides) -> Path:
    cfg = tiny_config_dict(**overrides)
    cfg["training"]["threads"] = 1
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_run_writes_the_documented_run_directory(tmp_path):
    exp = _experiment(tmp_path)
    result = _cli("run", str(exp), "--out", str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "r"
    for name in (rundir.CONFIG, rundir.METRICS, rundir.SUMMARY, rundir.STATUS, rundir.CHECKPOINT, rundir.LOG):
        assert (out / name).is_file(), name
    summary = json.loads((out / rundir.SUMMARY).read_text())
    assert 0 <= summary["test_accuracy"] <= 1 and summary["epochs"] == 3 and summary["train_seconds"] > 0
    assert "test accuracy" in result.stdout


@pytest.mark.parametrize("args,expected", [
    (["--set", "data.steps=0"], "data.steps"),
    (["--set", "training.lr=-1"], "training.lr"),
    (["--set", "data.train_fraction=0"], "data.train_fraction"),
    (["--set", "training.epoch=3"], "training.epoch"),
    (["--set", "rule.name=nope"], "rule.name"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, args, expected):
    exp = _experiment(tmp_path)
    result = _cli("run", str(exp), "--out", str(tmp_path / "r"), *args, cwd=tmp_path)
    assert result.returncode == 2
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists()


def test_missing_dataset_file_names_directory_and_file(tmp_path):
    exp = _experiment(tmp_path)
    result = _cli("run", str(exp), "--set", "data.dataset=mnist", "--set", f"data.root={tmp_path / 'empty'}",
                  "--set", "data.download=false", cwd=tmp_path)
    assert result.returncode == 2
    assert "train-images-idx3-ubyte.gz" in result.stderr and str(tmp_path / "empty") in result.stderr


def test_corrupt_dataset_file_is_reported(tmp_path, mnist_root):
    root = tmp_path / "data"
    (root / "mnist").mkdir(parents=True)
    for f in (mnist_root / "mnist").iterdir():
        (root / "mnist" / f.name).write_bytes(f.read_bytes())
    target = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:-10])
    exp = _experiment(tmp_path)
    result = _cli("run", str(exp), "--set", "data.dataset=mnist", "--set", f"data.root={root}", cwd=tmp_path)
    assert result.returncode == 2 and "md5" in result.stderr and "t10k-labels" in result.stderr


def test_unwritable_output_directory(tmp_path):
    exp = _experiment(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = _cli("run", str(exp), "--out", str(blocker / "run"), cwd=tmp_path)
    assert result.returncode == 2 and "cannot write" in result.stderr


def test_existing_run_is_never_overwritten(tmp_path):
    exp = _experiment(tmp_path, training__epochs=1)
    assert _cli("run", str(exp), "--out", str(tmp_path / "r"), cwd=tmp_path).returncode == 0
    before = (tmp_path / "r" / rundir.METRICS).read_text()
    again = _cli("run", str(exp), "--out", str(tmp_path / "r"), cwd=tmp_path)
    assert again.returncode == 2 and "--resume" in again.stderr
    assert (tmp_path / "r" / rundir.METRICS).read_text() == before
    default = _cli("run", str(exp), cwd=tmp_path)
    default2 = _cli("run", str(exp), cwd=tmp_path)
    assert default.returncode == 0 and default2.returncode == 0
    assert (tmp_path / "runs" / "tiny").is_dir() and (tmp_path / "runs" / "tiny-2").is_dir()


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path):
    exp = _experiment(tmp_path, training__epochs=6, data__synthetic__n_train=2048)
    ref = _cli("run", str(exp), "--out", str(tmp_path / "ref"), cwd=tmp_path)
    assert ref.returncode == 0, ref.stderr
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "spikelocal", "run", str(exp), "--out", str(out)],
                            cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / rundir.METRICS).exists():
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    status = json.loads((out / rundir.STATUS).read_text())
    assert status["state"] == "running" and 1 <= status["epoch"] < 6
    resumed = _cli("run", str(exp), "--out", str(out), "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    drop = {"epoch_seconds", "train_seconds"}
    a = [{k: v for k, v in r.items() if k not in drop} for r in rundir.read_metrics(tmp_path / "ref")]
    b = [{k: v for k, v in r.items() if k not in drop} for r in rundir.read_metrics(out)]
    assert a == b
    assert json.loads((out / rundir.STATUS).read_text())["state"] == "finished"
