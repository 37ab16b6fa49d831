"""``spikelocal export`` / ``import-nir`` from the command line: outputs, errors, no partial files, speed."""
from __future__ import annotations

import time
from pathlib import Path

import h5py
import nir
import pytest
import torch

from conftest import tiny_config
from spikelocal import rundir
from spikelocal.checkpoint import save_checkpoint
from spikelocal.cli import main
from spikelocal.export import FORMATS, export
from spikelocal.core.network import Network


def fake_run(path: Path, config, net: Network) -> Path:
    """A finished run directory holding ``net`` (no training needed)."""
    rundir.prepare_new(path, config)
    save_checkpoint(path / rundir.CHECKPOINT, {f"net.{k}": v for k, v in net.state_dict().items()}, {})
    rundir.write_status(path, "finished", config.training.epochs)
    return path


@pytest.mark.parametrize("fmt", FORMATS)
def test_cli_exports_each_format(tiny_run: Path, fmt: str, capsys) -> None:
    assert main(["export", str(tiny_run), "--format", fmt]) == 0
    out = Path(capsys.readouterr().out.strip().split(" -> ")[1])
    assert out.exists() and out.parent == tiny_run / "export"
    if fmt == "nir":
        assert "CubaLIF" in {type(n).__name__ for n in nir.read(out).nodes.values()}
    elif fmt in ("netx", "cores"):
        with h5py.File(out, "r") as f:
            assert ("layer" in f) if fmt == "netx" else ("cores" in f)
    else:
        assert (out / "run.py").is_file() and (out / "weights.npz").is_file()


def test_nir_export_writes_the_runs_recording_as_nir_data(tmp_path: Path) -> None:
    from spikelocal.trainer import run

    torch.set_num_threads(1)
    config = tiny_config(record={"samples": 4}, training__epochs=1)
    run(config, tmp_path / "run", progress=False)
    path, _ = export(tmp_path / "run", "nir", out=tmp_path / "g.nir")
    data = nir.read_data(str(tmp_path / "g.data.h5"))
    graph = nir.read(path)
    assert {"input", "lif1", "lif2", "lif3"} <= set(data.nodes) and set(data.nodes) <= set(graph.nodes)
    assert data.nodes["lif1"].observables["spikes"].data.shape == (4, 8, 32)


def test_errors_are_one_line_with_status_2_and_leave_nothing(tmp_path: Path, capsys) -> None:
    torch.set_num_threads(1)
    # a run directory without weights
    cfg = tiny_config()
    rundir.prepare_new(tmp_path / "empty", cfg)
    assert main(["export", str(tmp_path / "empty"), "--format", "nir", "--out", str(tmp_path / "a.nir")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no checkpoint" in err and not (tmp_path / "a.nir").exists()
    # a rate network asked for spiking-only formats
    rate_cfg = tiny_config(spiking=False)
    fake_run(tmp_path / "rate", rate_cfg, Network.from_config(rate_cfg.network, (1, 8, 8), 4, 0))
    for fmt in FORMATS:
        target = tmp_path / f"rate.{fmt}"
        assert main(["export", str(tmp_path / "rate"), "--format", fmt, "--out", str(target)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and ("layer1" in err or "layer 1 (dense)" in err) and "relu" in err, err
        assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "rate"]  # no temporary files either
    # a corrupt file given to the importer
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"\x89HDF junk")
    experiment = tmp_path / "exp.yaml"
    experiment.write_text(cfg.to_yaml())
    assert main(["import-nir", str(bad), str(experiment), "--out", str(tmp_path / "imp")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.nir: not a readable NIR graph" in err
    assert not (tmp_path / "imp").exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_refuses_bad_runs_in_one_line(tmp_path: Path, fmt: str, capsys) -> None:
    """No weights, a layer the format cannot express, a failing writer: status 2, nothing left."""
    torch.set_num_threads(1)
    target = tmp_path / f"out.{fmt}"

    def refused(run_dir: Path, *needles: str) -> None:
        assert main(["export", str(run_dir), "--format", fmt, "--out", str(target)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and all(n in err for n in needles), err
        assert not target.exists()

    cfg = tiny_config()
    rundir.prepare_new(tmp_path / "empty", cfg)
    refused(tmp_path / "empty", "no checkpoint")
    refused(tmp_path / "missing", "missing: no such run directory")
    sub = tiny_config(network__neuron={"kind": "lif", "reset": "subtract"})
    fake_run(tmp_path / "sub", sub, Network.from_config(sub.network, (1, 8, 8), 4, 0))
    lin = tiny_config(network__output_neuron={"kind": "linear"})
    fake_run(tmp_path / "lin", lin, Network.from_config(lin.network, (1, 8, 8), 4, 0))
    if fmt == "cores":  # the core file holds a subtractive reset and a host-read linear output
        for name in ("sub", "lin"):
            assert main(["export", str(tmp_path / name), "--format", fmt, "--out", str(target)]) == 0
            target.unlink()
        capsys.readouterr()
        relu = tiny_config(network__layers=[{"kind": "dense", "units": 32, "neuron": {"kind": "relu"}},
                                            {"kind": "dense", "units": 16}, {"kind": "dense", "units": 4}])
        fake_run(tmp_path / "relu", relu, Network.from_config(relu.network, (1, 8, 8), 4, 0))
        refused(tmp_path / "relu", "layer 1", "'relu'", "no integer compartment")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "lin", "relu", "sub"]
        return
    refused(tmp_path / "sub", "layer1", "hard reset", "'subtract'")
    if fmt == "nir":  # NIR has a node for a linear read-out (Affine); the others are spiking-only
        assert main(["export", str(tmp_path / "lin"), "--format", fmt, "--out", str(target)]) == 0
        assert "Affine" in {type(n).__name__ for n in nir.read(target).nodes.values()}
        target.unlink()
        capsys.readouterr()
    else:
        refused(tmp_path / "lin", "layer3", "'linear'", "supports lif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "lin", "sub"]


def test_a_writer_that_fails_midway_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    import numpy as np

    cfg = tiny_config()
    run_dir = fake_run(tmp_path / "run", cfg, Network.from_config(cfg.network, (1, 8, 8), 4, 0))

    def broken_savez(path, **arrays):
        Path(path).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        export(run_dir, "brian2", out=tmp_path / "b2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_import_nir_command_creates_a_trainable_run(tmp_path: Path, capsys) -> None:
    torch.set_num_threads(1)
    cfg = tiny_config(training__epochs=1)
    net = Network.from_config(cfg.network, (1, 8, 8), 4, 0)
    from spikelocal.export.nir_export import write_nir

    write_nir(net, tmp_path / "g.nir")
    experiment = tmp_path / "exp.yaml"
    experiment.write_text(cfg.to_yaml())
    assert main(["import-nir", str(tmp_path / "g.nir"), str(experiment), "--out", str(tmp_path / "run")]) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert rundir.read_status(tmp_path / "run")["state"] == "finished"


def test_a_million_synapses_export_in_under_10_s(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    layers = [{"kind": "dense", "units": 1024}, {"kind": "dense", "units": 256}, {"kind": "dense", "units": 10}]
    cfg = tiny_config(network__layers=layers, data__synthetic={"shape": [1, 28, 28], "classes": 10,
                                                               "n_train": 256, "n_test": 64})
    net = Network.from_config(cfg.network, (1, 28, 28), 10, 0)
    assert sum(layer.weight.numel() for layer in net.layers) >= 1_000_000  # (bench/export_speed.py: conv too)
    run_dir = fake_run(tmp_path / "big", cfg, net)
    for fmt in FORMATS:
        t0 = time.perf_counter()
        export(run_dir, fmt, out=tmp_path / f"big.{fmt}")
        seconds = time.perf_counter() - t0
        assert seconds < 10.0, f"{fmt}: {seconds:.1f} s"
