"""CIFAR-10 and SVHN from local files: tiny fake files in each official format (the real
ones are never downloaded), read into uint8 [N, 3, 32, 32] with labels 0-9; bad or missing
files stop with one line naming the file or folder."""
from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import spikelocal as sl
from spikelocal.config import DataConfig, input_spec
from spikelocal.data import cifar_svhn, load_dataset
from spikelocal.errors import DataError

from conftest import tiny_config_dict

RECORDS = 20          # per fake CIFAR file (the real ones hold 10000)
SVHN_N = 30
CALLED: list[str] = []


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random images [n, 3, 32, 32] and labels; image 0 is black but for one red pixel (5, 7)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    x[0] = 0
    x[0, 0, 5, 7] = 255
    y = (np.arange(n) + seed) % 10
    return x, y


def write_cifar_bin(root: Path) -> Path:
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for i, name in enumerate(cifar_svhn.CIFAR_BATCHES):
        x, y = _images(RECORDS, i)
        records = np.concatenate([y.astype(np.uint8)[:, None], x.reshape(RECORDS, -1)], axis=1)
        (folder / f"{name}.bin").write_bytes(records.tobytes())
    return folder


def write_cifar_py(root: Path, monkeypatch) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    table = {}
    for i, name in enumerate(cifar_svhn.CIFAR_BATCHES):
        x, y = _images(RECORDS, i)
        batch = {b"batch_label": b"fake", b"labels": [int(v) for v in y], b"data": x.reshape(RECORDS, -1),
                 b"filenames": [b"img%d.png" % j for j in range(RECORDS)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        table[name] = _md5(folder / name)
    monkeypatch.setattr(cifar_svhn, "CIFAR_PY_MD5", table)
    return folder


def write_svhn(root: Path, monkeypatch, x_shape: tuple[int, ...] | None = None) -> Path:
    from scipy.io import savemat

    folder = root / "svhn"
    folder.mkdir(parents=True)
    table = {}
    for i, name in enumerate(["train_32x32.mat", "test_32x32.mat"]):
        x, y = _images(SVHN_N, i)
        y = np.where(y == 0, 10, y)                                  # SVHN writes the digit 0 as 10
        mat_x = x.transpose(2, 3, 1, 0)                              # [32, 32, 3, N] (H, W, C, N)
        if x_shape is not None:
            mat_x = np.zeros(x_shape, np.uint8)
        savemat(folder / name, {"X": mat_x, "y": y.astype(np.uint8)[:, None]}, format="5")
        table[name] = _md5(folder / name)
    monkeypatch.setattr(cifar_svhn, "SVHN_MD5", table)
    return folder


@pytest.fixture
def small_cifar(monkeypatch):
    monkeypatch.setattr(cifar_svhn, "CIFAR_RECORDS", RECORDS)


def _one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


# -------------------------------------------------------------------- reading -------
@pytest.mark.parametrize("version", ["bin", "py"])
def test_cifar10_reads_both_versions(tmp_path, monkeypatch, small_cifar, version):
    if version == "bin":
        write_cifar_bin(tmp_path)
    else:
        write_cifar_py(tmp_path, monkeypatch)
    train_x, train_y, test_x, test_y = cifar_svhn.load_cifar10(tmp_path)
    assert train_x.shape == (5 * RECORDS, 3, 32, 32) and test_x.shape == (RECORDS, 3, 32, 32)
    assert train_x.dtype == np.uint8 and train_y.dtype == np.int64
    expected_x, expected_y = _images(RECORDS, 5)
    assert np.array_equal(test_x, expected_x) and np.array_equal(test_y, expected_y)
    assert np.array_equal(train_y[:RECORDS], _images(RECORDS, 0)[1])
    assert test_x[0, 0, 5, 7] == 255 and test_x[0, 1:].max() == 0 and test_x[0, 0].sum() == 255  # red stays red


def test_svhn_maps_label_10_to_0_and_keeps_channels(tmp_path, monkeypatch):
    write_svhn(tmp_path, monkeypatch)
    train_x, train_y, test_x, test_y = cifar_svhn.load_svhn(tmp_path)
    assert train_x.shape == (SVHN_N, 3, 32, 32) and test_x.shape == (SVHN_N, 3, 32, 32)
    assert train_x.dtype == np.uint8 and train_y.dtype == np.int64
    expected_x, expected_y = _images(SVHN_N, 0)
    assert np.array_equal(train_x, expected_x) and np.array_equal(train_y, expected_y)
    assert set(train_y.tolist()) == set(range(10))
    assert train_x[0, 0, 5, 7] == 255 and train_x[0, 1:].max() == 0


def test_load_dataset_gives_classes_and_the_config_the_shape(tmp_path, monkeypatch, small_cifar):
    write_cifar_bin(tmp_path)
    write_svhn(tmp_path, monkeypatch)
    cifar = load_dataset(DataConfig(dataset="cifar10", root=str(tmp_path)), seed=0)
    assert cifar.input_shape == (3, 32, 32) and cifar.classes[0] == "airplane" and cifar.classes[9] == "truck"
    assert cifar.train_x.dtype == torch.uint8 and len(cifar.test_y) == RECORDS
    svhn = load_dataset(DataConfig(dataset="svhn", root=str(tmp_path), train_fraction=0.5), seed=0)
    assert svhn.input_shape == (3, 32, 32) and svhn.classes == [str(i) for i in range(10)]
    assert len(svhn.train_y) < SVHN_N and set(svhn.train_y.tolist()) == set(range(10))  # stratified
    for name in ("cifar10", "svhn"):
        assert input_spec(DataConfig(dataset=name)) == ((3, 32, 32), 10)


def test_a_short_run_trains_a_conv_net_on_three_channels(tmp_path, small_cifar):
    write_cifar_bin(tmp_path / "data")
    torch.set_num_threads(1)
    cfg = tiny_config_dict(conv=True)
    cfg["network"]["layers"] = [{"kind": "conv", "channels": 4, "kernel": 3, "padding": 1, "pool": 2},
                                {"kind": "dense", "units": 16}, {"kind": "dense", "units": 10}]
    cfg["data"].update(dataset="cifar10", root=str(tmp_path / "data"), steps=4)
    del cfg["data"]["synthetic"]
    cfg["training"].update(epochs=1, batch_size=25, threads=1)
    path = tmp_path / "cifar.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run = sl.train(path, tmp_path / "run")
    assert 0.0 <= run.test_accuracy <= 1.0 and len(run.metrics) == 1
    assert run.network.layers[0].weight.shape[1] == 3                # in_channels 3
    dense = sl.Network.from_config(sl.NetworkConfig(layers=[{"kind": "dense", "units": 8},
                                                            {"kind": "dense", "units": 10}]),
                                   (3, 32, 32), 10, seed=0)
    assert dense.layers[0].weight.shape[1] == 3 * 32 * 32            # a dense net flattens 3072


# --------------------------------------------------------------------- errors -------
def test_missing_files_name_the_folder_and_where_to_get_them(tmp_path):
    with pytest.raises(DataError) as err:
        cifar_svhn.load_cifar10(tmp_path)
    text = _one_line(err)
    assert str(tmp_path / "cifar-10-batches-bin") in text and "data_batch_1.bin" in text
    assert "cifar-10-batches-py" in text and "www.cs.toronto.edu/~kriz/cifar.html" in text
    with pytest.raises(DataError) as err:
        cifar_svhn.load_svhn(tmp_path)
    text = _one_line(err)
    assert str(tmp_path / "svhn") in text and "train_32x32.mat" in text and "ufldl.stanford.edu" in text


def test_partial_python_version_names_the_missing_file(tmp_path, monkeypatch):
    folder = write_cifar_py(tmp_path, monkeypatch)
    (folder / "data_batch_4").unlink()
    with pytest.raises(DataError) as err:
        cifar_svhn.load_cifar10(tmp_path)
    assert "data_batch_4" in _one_line(err) and str(folder) in str(err.value)


def test_truncated_or_mislabelled_binary_file_is_named(tmp_path, small_cifar):
    folder = write_cifar_bin(tmp_path)
    target = folder / "data_batch_2.bin"
    good = target.read_bytes()
    target.write_bytes(good[:-100])
    with pytest.raises(DataError) as err:
        cifar_svhn.load_cifar10(tmp_path)
    assert str(target) in _one_line(err) and "bytes" in str(err.value)
    target.write_bytes(bytes([12]) + good[1:])
    with pytest.raises(DataError) as err:
        cifar_svhn.load_cifar10(tmp_path)
    assert str(target) in _one_line(err) and "label 12" in str(err.value)


def _record_call(tag: str) -> str:
    CALLED.append(tag)
    return tag


class _Hostile:
    def __reduce__(self):
        return _record_call, ("unpickled",)


def test_python_version_is_unpickled_only_when_its_md5_matches(tmp_path, monkeypatch):
    folder = write_cifar_py(tmp_path, monkeypatch)
    target = folder / "data_batch_1"
    target.write_bytes(pickle.dumps({b"data": _Hostile(), b"labels": []}, protocol=2))
    with pytest.raises(DataError) as err:
        cifar_svhn.load_cifar10(tmp_path)
    assert str(target) in _one_line(err) and "md5" in str(err.value) and not CALLED
    # even a file whose md5 matched may only name numpy's array constructors
    monkeypatch.setitem(cifar_svhn.CIFAR_PY_MD5, "data_batch_1", _md5(target))
    with pytest.raises(DataError) as err:
        cifar_svhn.load_cifar10(tmp_path)
    assert str(target) in _one_line(err) and not CALLED


def test_svhn_bad_md5_or_shape_is_named(tmp_path, monkeypatch):
    folder = write_svhn(tmp_path, monkeypatch, x_shape=(32, 32, 1, SVHN_N))
    with pytest.raises(DataError) as err:
        cifar_svhn.load_svhn(tmp_path)
    assert str(folder / "train_32x32.mat") in _one_line(err) and "[32, 32, 3, N]" in str(err.value)
    monkeypatch.setitem(cifar_svhn.SVHN_MD5, "train_32x32.mat", "0" * 32)
    with pytest.raises(DataError) as err:
        cifar_svhn.load_svhn(tmp_path)
    assert str(folder / "train_32x32.mat") in _one_line(err) and "md5" in str(err.value)


def test_cli_run_without_the_files_exits_2_with_one_line(tmp_path):
    cfg = tiny_config_dict()
    cfg["network"]["layers"][-1]["units"] = 10
    cfg["data"].update(dataset="cifar10", root=str(tmp_path / "empty"))
    cfg["training"]["threads"] = 1
    exp = tmp_path / "cifar.yaml"
    exp.write_text(yaml.safe_dump(cfg))
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-m", "spikelocal", "run", str(exp), "--out", str(tmp_path / "r")],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "cifar-10-batches-bin" in lines[0] and "Traceback" not in result.stderr
