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
from spikelocal.sweep.runner import SWEEP_JSON, point_dir, prepare_sweep_dir, run_point, threads_per_point

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


def test_threads_per_point_divide_the_cores_among_the_workers():
    assert threads_per_point(1, cores=2) == 2 and threads_per_point(2, cores=2) == 1
    assert threads_per_point(4, cores=2) == 1 and threads_per_point(3, cores=16) == 5


def test_epochs_to_95_and_mean_std():
    assert epochs_to_fraction([0.5, 0.9, 0.95, 0.96, 1.0]) == 3
    assert epochs_to_fraction([0.8]) == 1 and epochs_to_fraction([]) is None
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(2 ** 0.5))
    assert mean_std([0.5]) == (0.5, 0.0)


SHARED = """base: tiny.yaml
set: {{training.epochs: 2, training.threads: 1, data.root: {root}, data.download: false, prune.sparsity: 0.5}}
grid:
  data.dataset: [synthetic, mnist]
  noise.spike_deletion: [0.0, 0.5]
"""


def test_points_differing_in_test_conditions_share_one_training(tmp_path: Path):
    write_base(tmp_path)
    spec = load_sweep(write_sweep(tmp_path, SHARED.format(root=tmp_path / "no-data")))
    shared = run_sweep(spec, tmp_path / "shared", workers=2)
    alone = run_sweep(spec, tmp_path / "alone", workers=2, share_training=False)
    source, copy = spec.points[0].name, spec.points[1].name
    assert shared[1]["trained_by"] == source and "trained_by" not in alone[1]
    # the copy is an ordinary run directory whose figures are those of training it anew
    for a, b in zip(shared[:2], alone[:2]):
        assert a["state"] == b["state"] == "finished" and a["test_accuracy"] == b["test_accuracy"]
    for name in (source, copy):
        s = json.loads((tmp_path / "shared" / "points" / name / "summary.json").read_text())
        t = json.loads((tmp_path / "alone" / "points" / name / "summary.json").read_text())
        assert s["condition_test_accuracy"] == t["condition_test_accuracy"]
        assert s["noisy_test_accuracy" if name == copy else "pruned_test_accuracy"] == \
            t["noisy_test_accuracy" if name == copy else "pruned_test_accuracy"]
    assert "training copied from point" in (tmp_path / "shared" / "points" / copy / "log.txt").read_text()
    # a point whose source fails is recorded as failed, naming the source
    assert shared[2]["state"] == "failed" and shared[3]["state"] == "failed"
    assert f"shared with point {spec.points[2].name}, which is failed" in shared[3]["error"]
    write_results(spec, tmp_path / "shared", plots=False)
    rows = {r["point"]: r for r in read_csv(tmp_path / "shared" / "results.csv")}
    assert rows[copy]["trained_by"] == source and rows[source]["trained_by"] == ""


def test_dask_runs_a_point_sharing_a_training_after_its_source(tmp_path: Path):
    distributed = pytest.importorskip("distributed")
    write_base(tmp_path)
    spec = load_sweep(write_sweep(tmp_path, "base: tiny.yaml\nset: {training.epochs: 2, training.threads: 1}\n"
                                  "grid:\n  noise.spike_deletion: [0.0, 0.5]\n"))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        results = run_sweep(spec, tmp_path / "out", client=client)
    assert [r["state"] for r in results] == ["finished", "finished"]
    assert results[1]["trained_by"] == spec.points[0].name
    assert results[0]["test_accuracy"] == results[1]["test_accuracy"]
    summary = json.loads((point_dir(tmp_path / "out", spec.points[1]) / "summary.json").read_text())
    assert summary["noisy_test_accuracy"] == summary["condition_test_accuracy"]


@pytest.mark.slow
def test_a_killed_sweep_leaves_no_worker_and_resumes_on_restart(tmp_path: Path, capsys):
    import os
    import signal
    import subprocess
    import sys

    if not Path("/proc").is_dir():
        pytest.skip("needs /proc to find the worker processes")
    write_base(tmp_path)
    sweep = write_sweep(tmp_path, "base: tiny.yaml\nset: {training.epochs: 6, training.threads: 1}\n"
                        "grid:\n  seed: [0, 1]\n")
    out = tmp_path / "out"
    entry = "import sys; from spikelocal.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", entry, "sweep", str(sweep), "--out", str(out),
                             "--workers", "2", "--quiet", "--no-plots"])
    status = out / "points" / "seed=0" / "status.json"
    deadline = time.time() + 300  # generous: a shared machine may starve a niced test
    while time.time() < deadline and proc.poll() is None:
        try:
            if json.loads(status.read_text())["epoch"] >= 2:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail(f"the sweep did not get through 2 epochs in 300 s (exit status {proc.poll()})")

    def children() -> list[int]:
        kids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == proc.pid and fields[0] not in "ZX":
                kids.append(int(stat.parent.name))
        return kids

    workers = children()
    assert workers
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline:
        alive = []
        for pid in workers:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state not in "ZX":
                alive.append(pid)
        if not alive:
            break
        time.sleep(0.1)
    assert not alive, f"workers {alive} outlived the killed sweep"
    killed = json.loads(status.read_text())
    assert killed["state"] == "running" and 2 <= killed["epoch"] < 6
    capsys.readouterr()
    assert main(["sweep", str(sweep), "--out", str(out), "--workers", "2", "--no-plots"]) == 0
    assert "seed=0: finished (resumed)" in capsys.readouterr().out
    rows = read_csv(out / "results.csv")
    assert [r["state"] for r in rows] == ["finished", "finished"]
    with open(out / "points" / "seed=0" / "metrics.csv") as fh:
        assert [int(r["epoch"]) for r in csv.DictReader(fh)] == [1, 2, 3, 4, 5, 6]
