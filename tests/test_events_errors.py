"""Event datasets: bad files and bad settings end in one line that names the culprit (status 2),
and the binned-tensor cache is reused only for the same parameters and files."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from spikelocal.cli import main
from spikelocal.config import DataConfig, resolve_experiment
from spikelocal.data import events as events_mod
from spikelocal.data import load_dataset
from spikelocal.data.event_writers import write_dvsgesture_file, write_nmnist_file, write_shd_file
from spikelocal.errors import ConfigError, DataError

from test_events_formats import nmnist_bytes

REPO = Path(__file__).resolve().parents[1]


def cfg(root: Path, dataset: str = "nmnist", steps: int = 5, **events) -> DataConfig:
    return DataConfig(dataset=dataset, root=str(root), download=False, steps=steps, events=events)


def nmnist_set(root: Path, n: int = 4) -> list[Path]:
    rng = np.random.default_rng(0)
    files = []
    for split in ("Train", "Test"):
        for i in range(n):
            path = root / "NMNIST" / split / str(i % 10) / f"{i}.bin"
            t = np.sort(rng.integers(0, 5000, 50))
            write_nmnist_file(path, rng.integers(0, 34, 50), rng.integers(0, 34, 50), t, rng.integers(0, 2, 50))
            files.append(path)
    return files


def data_error(config: DataConfig) -> str:
    with pytest.raises(DataError) as info:
        load_dataset(config, seed=0)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


# ---------------------------------------------------------------- bad files -------------
def test_missing_files_without_download(tmp_path: Path) -> None:
    msg = data_error(cfg(tmp_path))
    assert str(tmp_path / "NMNIST" / "Train") in msg and "download off" in msg and "Train/" in msg
    msg = data_error(cfg(tmp_path, "shd"))
    assert "shd_train.h5" in msg


def test_missing_files_when_the_download_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tonic.datasets

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(tonic.datasets, "SHD", offline)
    msg = data_error(DataConfig(dataset="shd", root=str(tmp_path), download=True, steps=5))
    assert "download failed: OSError: network is unreachable" in msg


@pytest.mark.parametrize("content, words", [
    (b"", "truncated"),
    (nmnist_bytes([(1, 1, 0, 10)])[:-2], "truncated"),
    (b"hello, world! plain text.", "outside the 34x34 sensor"),  # 25 bytes of ASCII
    (nmnist_bytes([(1, 1, 0, 10), (40, 3, 1, 20)]), "event 1 at x=40, y=3 is outside"),
])
def test_bad_nmnist_file(tmp_path: Path, content: bytes, words: str) -> None:
    files = nmnist_set(tmp_path)
    files[2].write_bytes(content)
    msg = data_error(cfg(tmp_path))
    assert str(files[2]) in msg and words in msg


def test_bad_dvsgesture_files(tmp_path: Path) -> None:
    good = tmp_path / "DVSGesture" / "ibmGestureTest" / "user01_led" / "0.npy"
    write_dvsgesture_file(good, np.array([1]), np.array([1]), np.array([1]), np.array([3]))
    bad = tmp_path / "DVSGesture" / "ibmGestureTrain" / "user01_led" / "3.npy"
    write_dvsgesture_file(bad, np.array([1, 200]), np.array([1, 2]), np.array([1, 0]), np.array([3, 4]))
    assert "x=200" in data_error(cfg(tmp_path, "dvsgesture"))
    bad.write_bytes(bad.read_bytes()[:-20])
    msg = data_error(cfg(tmp_path, "dvsgesture"))
    assert str(bad) in msg and "not a readable .npy" in msg
    np.save(bad, np.zeros((4, 3)))
    assert "[N, 4]" in data_error(cfg(tmp_path, "dvsgesture"))
    bad.unlink()
    (bad.parent / "12.npy").write_bytes(good.read_bytes())
    assert "label 0..10" in data_error(cfg(tmp_path, "dvsgesture"))


def test_bad_shd_files(tmp_path: Path) -> None:
    test = tmp_path / "SHD" / "shd_test.h5"
    write_shd_file(test, [np.array([0.001])], [np.array([1])], [0])
    train = tmp_path / "SHD" / "shd_train.h5"
    write_shd_file(train, [np.array([0.001]), np.array([0.002])], [np.array([1]), np.array([700])], [0, 1])
    msg = data_error(cfg(tmp_path, "shd"))
    assert str(train) in msg and "sample 1: unit 700 is outside the 700 channels" in msg
    train.write_bytes(test.read_bytes()[:300])
    assert "not a readable HDF5 file" in data_error(cfg(tmp_path, "shd"))
    import h5py
    with h5py.File(train, "w") as fh:
        fh.create_dataset("labels", data=np.zeros(1, np.uint8))
    assert "no 'spikes/times'" in data_error(cfg(tmp_path, "shd"))


# ---------------------------------------------------------------- bad settings ----------
def experiment(tmp_path: Path, **data) -> dict:
    return {"network": {"layers": [{"kind": "dense", "units": 10}]},
            "data": {"dataset": "nmnist", "root": str(tmp_path), "download": False, "steps": 5, **data}}


@pytest.mark.parametrize("data, words", [
    ({"events": {"window_ms": 0}}, "data.events.window_ms"),
    ({"events": {"size": [40, 40]}}, "data.events.size"),
    ({"events": {"size": [32]}}, "[height, width]"),
    ({"steps": 10, "events": {"window_ms": 1, "max_duration_ms": 300}}, "set steps: 300"),
])
def test_bad_event_settings(tmp_path: Path, data: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("]", r"\]")):
        resolve_experiment(experiment(tmp_path, **data), "x.yaml", {}, REPO)


def test_rate_network_is_refused(tmp_path: Path) -> None:
    raw = experiment(tmp_path)
    raw["network"]["neuron"] = {"kind": "relu"}
    with pytest.raises(ConfigError, match="needs a spiking layer"):
        resolve_experiment(raw, "x.yaml", {}, REPO)


def test_cli_status_2_and_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(experiment(tmp_path, events={"window_ms": 0})))
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(path) in err and "window_ms" in err
    nmnist_set(tmp_path)
    (tmp_path / "NMNIST" / "Train" / "0" / "0.bin").write_bytes(b"abc")
    path.write_text(yaml.safe_dump(experiment(tmp_path)))
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "0.bin: truncated" in err


# ---------------------------------------------------------------- cache -----------------
def test_cache_reused_only_for_same_parameters_and_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = nmnist_set(tmp_path)
    first = load_dataset(cfg(tmp_path), seed=0)
    assert len(list((tmp_path / "NMNIST" / "cache").glob("*.npz"))) == 2
    calls = []
    real = events_mod.read_nmnist
    monkeypatch.setattr(events_mod, "read_nmnist", lambda p: calls.append(p) or real(p))
    again = load_dataset(cfg(tmp_path), seed=0)
    assert calls == [] and np.array_equal(again.train_x.index, first.train_x.index)
    load_dataset(cfg(tmp_path, window_ms=2.0), seed=0)           # another binning: read again
    assert len(calls) == 8
    calls.clear()
    write_nmnist_file(files[0], np.array([1]), np.array([1]), np.array([1]), np.array([1]))
    changed = load_dataset(cfg(tmp_path), seed=0)
    assert len(calls) == 4 and changed.train_x.dense()[0].sum() == 1   # train split only re-binned
    calls.clear()
    load_dataset(cfg(tmp_path, cache=False), seed=0)
    assert len(calls) == 8


def test_corrupt_cache_is_rebuilt_and_cache_dir_is_honoured(tmp_path: Path) -> None:
    nmnist_set(tmp_path)
    cache = tmp_path / "elsewhere"
    first = load_dataset(cfg(tmp_path, cache_dir=str(cache)), seed=0)
    written = sorted(cache.glob("*.npz"))
    assert len(written) == 2 and not (tmp_path / "NMNIST" / "cache").exists()
    written[0].write_bytes(b"not a zip")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = load_dataset(cfg(tmp_path, cache_dir=str(cache)), seed=0)
    assert any("unreadable event cache" in str(w.message) for w in caught)
    assert np.array_equal(again.test_x.index, first.test_x.index)
    assert np.array_equal(again.train_x.index, first.train_x.index)
    assert not list(cache.glob(".*.tmp"))
