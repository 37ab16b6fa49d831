"""Outputs are never destroyed: no command replaces what it did not create unless --force,
never the run directory it reads, never through a symbolic link, never outside runs/."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from spikelocal import rundir
from spikelocal.cli import main
from spikelocal.errors import ConfigError, RunDirError
from spikelocal.outputs import atomic_write_text, claim_output

from conftest import tiny_config, tiny_config_dict


def one_line_error(capsys, start: str = "spikelocal: error:") -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(start), err
    return err[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_brian2_export_into_the_run_directory_is_refused_even_with_force(tiny_run, capsys):
    before = snapshot(tiny_run)
    for extra in ([], ["--force"]):
        assert main(["export", str(tiny_run), "--format", "brian2", "--out", str(tiny_run), *extra]) == 2
        assert "run directory" in one_line_error(capsys)
    assert snapshot(tiny_run) == before


def test_brian2_export_keeps_an_existing_folder_unless_forced(tiny_run, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("precious")
    assert main(["export", str(tiny_run), "--format", "brian2", "--out", str(out)]) == 2
    line = one_line_error(capsys)
    assert str(out) in line and "--force" in line
    assert (out / "notes.txt").read_text() == "precious"
    assert main(["export", str(tiny_run), "--format", "brian2", "--out", str(out), "--force"]) == 0
    assert (out / "weights.npz").is_file() and not (out / "notes.txt").exists()


def test_export_out_dot_and_into_run_entries_is_one_line(tiny_run, capsys, monkeypatch):
    monkeypatch.chdir(tiny_run.parent)
    assert main(["export", str(tiny_run), "--format", "nir", "--out", "."]) == 2
    one_line_error(capsys)
    ckpt = tiny_run / "checkpoints"
    assert main(["export", str(tiny_run), "--format", "brian2", "--out", str(ckpt), "--force"]) == 2
    one_line_error(capsys)
    assert (tiny_run / rundir.CHECKPOINT).is_file()


def test_nir_export_does_not_overwrite_an_existing_file(tiny_run, tmp_path, capsys):
    pytest.importorskip("nir")
    out = tmp_path / "net.nir"
    out.write_text("not ours")
    assert main(["export", str(tiny_run), "--format", "nir", "--out", str(out)]) == 2
    assert f"{out}: exists" in one_line_error(capsys)
    assert out.read_text() == "not ours"
    assert main(["export", str(tiny_run), "--format", "nir", "--out", str(out), "--force"]) == 0
    assert out.read_bytes()[:4] == b"\x89HDF"


def test_report_does_not_overwrite_an_existing_file(tiny_run, tmp_path, capsys):
    out = tmp_path / "page.html"
    out.write_text("mine")
    assert main(["report", str(tiny_run), "--out", str(out)]) == 2
    assert f"{out}: exists" in one_line_error(capsys)
    assert out.read_text() == "mine"
    (tiny_run / "report.html").write_text("an older report")
    assert main(["report", str(tiny_run)]) == 2
    one_line_error(capsys)
    assert main(["report", str(tiny_run), "--force"]) == 0
    assert "<html" in (tiny_run / "report.html").read_text().lower()


def test_plot_does_not_overwrite_existing_figures(tiny_run, tmp_path, capsys):
    out = tmp_path / "figs"
    out.mkdir()
    (out / "learning.png").write_bytes(b"mine")
    assert main(["plot", str(tiny_run), "--what", "learning", "--out", str(out)]) == 2
    one_line_error(capsys)
    assert (out / "learning.png").read_bytes() == b"mine"
    assert main(["plot", str(tiny_run), "--what", "learning", "--out", str(out), "--force"]) == 0


def test_plots_folder_that_is_a_link_is_not_written_through(tiny_run, tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tiny_run / "plots").symlink_to(elsewhere)
    assert main(["plot", str(tiny_run), "--what", "learning"]) == 2
    assert "symbolic link" in one_line_error(capsys)
    assert list(elsewhere.iterdir()) == []


def test_log_that_is_a_link_is_not_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep\n")
    out = tmp_path / "run"
    out.mkdir()
    (out / rundir.LOG).symlink_to(victim)
    with pytest.raises(RunDirError, match="symbolic link"):
        rundir.append_log(out, "epoch 1")
    assert victim.read_text() == "keep\n"


def test_atomic_write_refuses_a_link_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "victim"
    target.write_text("keep")
    link = tmp_path / "status.json"
    link.symlink_to(target)
    with pytest.raises(RunDirError):
        atomic_write_text(link, "{}")
    assert target.read_text() == "keep" and sorted(p.name for p in tmp_path.iterdir()) == ["status.json", "victim"]


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "/abs", "~home"])
def test_run_names_cannot_leave_the_runs_folder(name, tmp_path, capsys, monkeypatch):
    with pytest.raises(ConfigError, match="name"):
        rundir.default_out(tiny_config(name=name), tmp_path / "runs")
    monkeypatch.chdir(tmp_path)
    cfg = tiny_config_dict(name=name)
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["run", "e.yaml", "--quiet"]) == 2
    one_line_error(capsys)
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob("runs/**/config.yaml"))


def test_run_out_naming_an_existing_file_is_one_line(tmp_path, capsys):
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(tiny_config_dict()))
    target = tmp_path / "afile"
    target.write_text("keep")
    assert main(["run", str(tmp_path / "e.yaml"), "--out", str(target), "--quiet"]) == 2
    assert "not a folder" in one_line_error(capsys)
    assert target.read_text() == "keep"


def test_claim_output_rules(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    claim_output(tmp_path / "new.nir", reading=[run])
    (tmp_path / "old.nir").write_text("x")
    with pytest.raises(ValueError, match="exists"):
        claim_output(tmp_path / "old.nir", reading=[run])
    claim_output(tmp_path / "old.nir", force=True, reading=[run])
    for bad in (run, tmp_path, run / "config.yaml"):
        with pytest.raises(ValueError, match="run"):
            claim_output(bad, force=True, reading=[run])
