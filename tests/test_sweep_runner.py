"""Running sweeps: local pool, Dask, resume, failures, results and the CLI's errors."""
from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest

from spikelocal.cli import main
from spikelocal.sweep import load_sweep, run_sweep, write_results
from spikelocal.sweep.results import epochs_to_fraction, mean_std
from spikelocal.sweep.runner import SWEEP_JSON, point_dir, prepare_sweep_dir, run_point

from test_sweep_spec import write_base, write_sweep

SWEEP = """base: tiny.yaml
set: {{training.epochs: 2, training.threads: 1, data.root: {root}, data.download: false}}
grid:
  data.dataset: [synthetic, mnist]
  seed: [0, 1]
"""


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def sweep_file(tmp_path: Path) -> Path:
    write_base(tmp_path)
    return write_sweep(tmp_path, SWEEP.format(root=tmp_path / "no-data"))


def test_local_pool_runs_every_point_and_records_failures(sweep_file: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(sweep_file), "--out", str(out), "--workers", "2", "--quiet"]) == 1
    rows = {r["point"]: r for r in read_csv(out / "results.csv")}
    assert len(rows) == 4
    ok = rows["dataset=synthetic__seed=0"]
    assert ok["state"] == "finished" and 0 <= float(ok["accuracy"]) <= 1 and ok["epochs"] == "2"
    assert ok["epochs_to_95"] in ("1", "2")
    bad = rows["dataset=mnist__seed=1"]
    assert bad["state"] == "failed" and bad["error"].startswith("DataError")
    status = json.loads((out / "points" / "dataset=mnist__seed=1" / "status.json").read_text())
    assert status["state"] == "failed"
    assert (out / "plots" / "accuracy_vs_epoch.png").is_file()
    table = (out / "results.md").read_text()
    assert "| synthetic |" in table and "1/2" not in table and "0/2" in table
    assert "not finished" in capsys.readouterr().err


def test_dask_cluster_resumes_unfinished_points_and_skips_finished_ones(sweep_file: Path, tmp_path: Path):
    distributed = pytest.importorskip("distributed")
    spec = load_sweep(sweep_file)
    out = tmp_path / "out"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        first = run_sweep(spec, out, client=client)
        assert [r["state"] for r in first] == ["finished", "finished", "failed", "failed"]
        done = point_dir(out, spec.points[0])
        again = point_dir(out, spec.points[1])
        summary = json.loads((again / "summary.json").read_text())
        stamp = (done / "summary.json").stat().st_mtime_ns
        # point 2 looks killed after its first epoch: status running, no summary
        (again / "summary.json").unlink()
        status = json.loads((again / "status.json").read_text())
        (again / "status.json").write_text(json.dumps({**status, "state": "running"}))
        second = run_sweep(spec, out, client=client)
    assert second[0].get("skipped") and second[2].get("skipped")
    assert second[1]["state"] == "finished" and second[1]["resumed"]
    assert (done / "summary.json").stat().st_mtime_ns == stamp
    assert json.loads((again / "summary.json").read_text())["test_accuracy"] == summary["test_accuracy"]
    written = write_results(spec, out, plots=False)
    assert (written["finished"], written["failed"]) == (2, 2)


def test_run_point_records_any_error_in_the_run_directory(tmp_path: Path):
    base = write_base(tmp_path, training={"epochs": 1, "lr": 1e-2, "progress": False, "batch_size": 32,
                                          "time_chunk": 4})
    task = {"name": "p", "experiment": str(base), "overrides": ["data.dataset=\"mnist\"",
                                                                f"data.root=\"{tmp_path}\"", "data.download=false"],
            "out": str(tmp_path / "p")}
    result = run_point(task, threads=1)
    assert result["state"] == "failed" and "DataError" in result["error"]
    status = json.loads((tmp_path / "p" / "status.json").read_text())
    assert status["state"] == "failed" and status["error"] == result["error"]


def test_a_directory_of_another_sweep_file_is_refused(sweep_file: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    prepare_sweep_dir(load_sweep(sweep_file), out)
    sweep_file.write_text(sweep_file.read_text().replace("seed: [0, 1]", "seed: [0, 1, 2]"))
    assert main(["sweep", str(sweep_file), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "different sweep file" in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["points", SWEEP_JSON]


def test_bad_grid_key_and_unreachable_scheduler_start_nothing(sweep_file: Path, tmp_path: Path, capsys):
    bad = write_sweep(tmp_path, "base: tiny.yaml\ngrid:\n  training.epoks: [1]\n", name="bad.yaml")
    assert main(["sweep", str(bad), "--out", str(tmp_path / "bad")]) == 2
    assert "training.epoks: unknown key" in capsys.readouterr().err
    t0 = time.perf_counter()
    assert main(["sweep", str(sweep_file), "--out", str(tmp_path / "dask"),
                 "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert time.perf_counter() - t0 < 15
    err = capsys.readouterr().err.strip()
    assert "cannot reach a Dask scheduler" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "dask").exists() and not (tmp_path / "bad").exists()


def test_epochs_to_95_and_mean_std():
    assert epochs_to_fraction([0.5, 0.9, 0.95, 0.96, 1.0]) == 3
    assert epochs_to_fraction([0.8]) == 1 and epochs_to_fraction([]) is None
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(2 ** 0.5))
    assert mean_std([0.5]) == (0.5, 0.0)
