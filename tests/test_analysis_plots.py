"""``spikelocal plot`` / ``record``: figures written, and bad input refused cleanly."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch

from spikelocal import rundir
from spikelocal.analysis import plots
from spikelocal.cli import main
from spikelocal.config import PlotName
from spikelocal.trainer import run

from conftest import tiny_config

PNG = b"\x89PNG\r\n\x1a\n"


def _files(path: Path) -> set[str]:
    return {p.name for p in path.rglob("*") if p.is_file()} if path.exists() else set()


def test_registry_matches_config_names():
    assert set(plots.PLOTS) == set(PlotName.__args__)


def test_plot_all_png_and_svg(tiny_run, capsys):
    assert main(["plot", str(tiny_run)]) == 0
    written = _files(tiny_run / "plots")
    expected = set(PlotName.__args__) - {"angles", "adaptation"}  # no alignment logged, no ALIF layer
    assert written == {f"{n}.png" for n in expected}
    for name in written:
        data = (tiny_run / "plots" / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 5000
    out = tiny_run / "svg"
    assert main(["plot", str(tiny_run), "--what", "raster,learning", "--format", "svg,pdf", "--out", str(out)]) == 0
    assert _files(out) == {"raster.svg", "raster.pdf", "learning.svg", "learning.pdf"}
    assert (out / "raster.svg").read_text().lstrip().startswith("<?xml")


def test_record_command_then_plot_uses_it(tiny_run):
    assert main(["record", str(tiny_run), "--samples", "9", "--layers", "2"]) == 0
    assert (tiny_run / "recordings" / "epoch_003.h5").is_file()
    summary = json.loads((tiny_run / "summary.json").read_text())
    assert summary["recording"]["samples"] == 9 and list(summary["recording"]["layers"]) == ["layer2"]
    assert main(["plot", str(tiny_run), "--what", "raster"]) == 0
    # layer 1 is not in that recording: refused, nothing written
    assert main(["plot", str(tiny_run), "--what", "raster", "--layers", "1", "--out", str(tiny_run / "x")]) == 2
    assert not (tiny_run / "x").exists() or not _files(tiny_run / "x")


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("spikelocal: error:")
    return err[0]


@pytest.mark.parametrize("args, message", [
    (["--what", "rasterr"], "unknown plot 'rasterr'"),
    (["--format", "gif"], "unknown 'gif'"),
    (["--layers", "7"], "layer 7 does not exist"),
    (["--what", "angles"], "angle_bp"),
])
def test_bad_plot_arguments(tiny_run, capsys, args, message):
    before = _files(tiny_run)
    assert main(["plot", str(tiny_run), *args]) == 2
    assert message in _one_line_error(capsys)
    assert _files(tiny_run) == before


def test_bad_run_directories(tiny_run, tmp_path, capsys):
    assert main(["plot", str(tmp_path / "missing")]) == 2
    assert "no such run directory" in _one_line_error(capsys)
    killed = tmp_path / "killed"
    shutil.copytree(tiny_run, killed)
    rundir.write_status(killed, "running", 1)
    for cmd in ("plot", "record", "report"):
        assert main([cmd, str(killed)]) == 2
        assert "not finished" in _one_line_error(capsys)
    old = tmp_path / "old"
    shutil.copytree(tiny_run, old)
    status = json.loads((old / "status.json").read_text())
    status["version"] = "7.0.0"
    (old / "status.json").write_text(json.dumps(status))
    assert main(["report", str(old)]) == 2
    assert "7.0.0" in _one_line_error(capsys)
    nockpt = tmp_path / "nockpt"
    shutil.copytree(tiny_run, nockpt)
    (nockpt / rundir.CHECKPOINT).unlink()
    assert main(["plot", str(nockpt)]) == 2
    assert "incomplete" in _one_line_error(capsys)
    for path in (killed, old, nockpt):
        assert not (path / "plots").exists() and not (path / "report.html").exists()
        assert not (path / "recordings").exists()


def test_angles_plot_from_logged_columns(tiny_run):
    rows = rundir.read_metrics(tiny_run)
    for r in rows:
        r["layer1_angle_bp"] = 80.0 - 5 * r["epoch"]
        r["layer2_angle_bp"] = 60.0
    rundir.write_metrics(tiny_run, rows)
    assert main(["plot", str(tiny_run), "--what", "angles"]) == 0
    assert (tiny_run / "plots" / "angles.png").read_bytes().startswith(PNG)


def test_compare_runs(tiny_run, tmp_path):
    torch.set_num_threads(1)
    other = tmp_path / "other"
    run(tiny_config(seed=4, training__epochs=2), other, progress=False)
    out = tmp_path / "cmp"
    assert main(["plot", str(tiny_run), str(other), "--out", str(out)]) == 0
    assert _files(out) == {"compare_learning.png", "compare_rates.png"}
    assert main(["plot", str(tiny_run), str(other)]) == 2


def test_plots_and_report_at_run_end(tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "run"
    run(tiny_config(training__epochs=1, plots={"what": ["learning", "rates"], "report": True}), out, progress=False)
    assert _files(out / "plots") == {"learning.png", "rates.png"}
    assert (out / "report.html").read_text().count("data:image/png;base64,") >= 8
    assert not (out / "recordings").exists()               # plots alone record in memory only
    with open(out / "metrics.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 1


def test_run_end_plots_need_more_than_was_recorded(tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "run"
    config = tiny_config(training__epochs=1, record={"samples": 5, "variables": ["spikes"], "layers": [2]},
                         plots={"what": ["membrane", "raster"]})
    run(config, out, progress=False)
    assert _files(out / "plots") == {"membrane.png", "raster.png"}
    assert json.loads((out / "status.json").read_text())["state"] == "finished"


def test_raster_rows_are_averaged_not_dropped():
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(2, 0.5), dpi=100)       # ~ 30 pixel rows for 300 neurons
    image = np.zeros((300, 4), np.uint8)
    image[::7, 0] = 1                                       # sparse rows nearest-neighbour would skip
    fitted, k = plots.fit_rows(image, ax)
    plt.close(fig)
    assert k > 1 and fitted.shape[0] * k >= 300
    assert np.isclose(fitted[:, 0].sum() * k, image[:, 0].sum())


def test_plot_a_chosen_recorded_epoch(tmp_path, capsys):
    torch.set_num_threads(1)
    out = tmp_path / "run"
    run(tiny_config(training__epochs=2, record={"samples": 6, "epochs": "all"}), out, progress=False)
    assert main(["plot", str(out), "--what", "rates", "--epoch", "1"]) == 0
    assert main(["plot", str(out), "--what", "rates", "--epoch", "5", "--out", str(tmp_path / "p")]) == 2
    assert "no recording of epoch 5; recorded epochs: 1, 2" in _one_line_error(capsys)
    assert not (tmp_path / "p").exists()


@pytest.mark.slow
def test_mnist_plot_time_and_recording_cost(mnist_root, tmp_path, monkeypatch):
    """The issue's targets on a real MNIST spiking MLP: plotting < 20 s, recording 100 test
    samples < 10% of the run's time (measured as the hook's own time)."""
    import time

    from spikelocal.analysis import hook
    from spikelocal.config import load_experiment

    torch.set_num_threads(1)
    monkeypatch.setenv("SPIKELOCAL_DATA", str(mnist_root))
    spent = []
    original = hook.AnalysisHook.on_epoch_end

    def timed(self, *args):
        t = time.perf_counter()
        original(self, *args)
        spent.append(time.perf_counter() - t)

    monkeypatch.setattr(hook.AnalysisHook, "on_epoch_end", timed)
    repo = Path(__file__).resolve().parents[1]
    config = load_experiment(repo / "experiments" / "quickstart.yaml",
                             ["data.train_fraction=0.2", "training.epochs=1", "training.threads=1", "training.progress=false",
                              "record.samples=100"])
    out = tmp_path / "mnist"
    t0 = time.perf_counter()
    run(config, out, progress=False)
    run_seconds = time.perf_counter() - t0
    assert (out / "recordings" / "epoch_001.h5").is_file()
    assert sum(spent) < 0.10 * (run_seconds - sum(spent)), (spent, run_seconds)
    t0 = time.perf_counter()
    assert main(["plot", str(out)]) == 0
    plot_seconds = time.perf_counter() - t0
    print(f"run {run_seconds:.1f} s, recording hook {sum(spent):.2f} s, plot {plot_seconds:.1f} s")
    assert plot_seconds < 20


def test_rate_network_gets_run_figures_only(tmp_path, capsys):
    torch.set_num_threads(1)
    out = tmp_path / "rate"
    run(tiny_config(spiking=False, training__epochs=1), out, progress=False)
    assert main(["plot", str(out)]) == 0
    assert _files(out / "plots") == {"learning.png", "weights.png"}
    assert main(["plot", str(out), "--what", "raster"]) == 2
    assert "no spiking layer" in _one_line_error(capsys)
    assert main(["report", str(out)]) == 0
