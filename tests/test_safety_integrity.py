"""Never a wrong number without a word: checksums, checkpoints that fit their config, resume
that does not start over, corrupt run files, and training that went wrong."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
import yaml

from spikelocal import rundir
from spikelocal.checkpoint import load_checkpoint, save_checkpoint
from spikelocal.cli import main
from spikelocal.errors import RunDirError
from spikelocal.health import chance_margin, training_warnings
from spikelocal.trainer import run

from conftest import tiny_config, tiny_config_dict


def one_line(capsys, start: str = "spikelocal: error:") -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(start), err
    return err[0]


def flip_bit(path: Path, from_end: int = 64) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) - from_end] ^= 0x10
    path.write_bytes(bytes(data))


def test_checkpoint_round_trip_and_flipped_bit(tmp_path):
    path = tmp_path / "c.safetensors"
    tensors = {"w": torch.randn(50, 40), "b": torch.arange(7), "s": torch.tensor(2.5)}
    save_checkpoint(path, tensors, {"epoch": 3})
    back, meta = load_checkpoint(path)
    assert meta == {"epoch": 3} and all(torch.equal(back[k], v) for k, v in tensors.items())
    flip_bit(path)
    with pytest.raises(RunDirError, match="checksum mismatch") as err:
        load_checkpoint(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_flipped_bit_in_the_metadata_is_detected(tmp_path):
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, {"w": torch.ones(3)}, {"epoch": 3})
    data = path.read_bytes().replace(b'\\"epoch\\": 3', b'\\"epoch\\": 7')
    assert b'\\"epoch\\": 7' in data
    path.write_bytes(data)
    with pytest.raises(RunDirError, match="checksum"):
        load_checkpoint(path)


@pytest.mark.parametrize("command", [["convert", "--no-sweep"], ["export", "--format", "brian2"],
                                     ["plot"], ["report"]])
def test_a_flipped_bit_stops_every_reader(tiny_run, tmp_path, capsys, command):
    flip_bit(tiny_run / rundir.CHECKPOINT)
    args = [command[0], str(tiny_run), *command[1:]]
    if command[0] != "plot":
        args += ["--out", str(tmp_path / "out")]
    assert main(args) == 2
    assert "checksum mismatch" in one_line(capsys)


def _refit(run_dir: Path, units: int = 33) -> None:
    cfg = yaml.safe_load((run_dir / rundir.CONFIG).read_text())
    cfg["network"]["layers"][0]["units"] = units
    (run_dir / rundir.CONFIG).write_text(yaml.safe_dump(cfg, sort_keys=False))


@pytest.mark.parametrize("command", [["convert", "--no-sweep"], ["export", "--format", "nir"], ["plot"],
                                     ["report"], ["record"]])
def test_checkpoint_that_does_not_fit_the_config_is_one_line(tiny_run, tmp_path, capsys, command):
    _refit(tiny_run)
    args = [command[0], str(tiny_run), *command[1:]]
    if command[0] in ("convert", "export", "report"):
        args += ["--out", str(tmp_path / "out")]
    assert main(args) == 2
    line = one_line(capsys)
    assert "(33, 64)" in line and "(32, 64)" in line and "layers.0" in line


def test_resume_with_a_checkpoint_that_does_not_fit_is_one_line(tiny_run, capsys):
    _refit(tiny_run)
    assert main(["run", str(tiny_run / rundir.CONFIG), "--out", str(tiny_run), "--resume", "--quiet"]) == 2
    assert "(33, 64)" in one_line(capsys)


def test_resume_without_its_checkpoint_is_an_error_not_a_fresh_start(tiny_run, capsys):
    (tiny_run / rundir.CHECKPOINT).unlink()
    metrics = (tiny_run / rundir.METRICS).read_bytes()
    assert main(["run", str(tiny_run / rundir.CONFIG), "--out", str(tiny_run), "--resume", "--quiet"]) == 2
    assert "last.safetensors: missing" in one_line(capsys)
    assert (tiny_run / rundir.METRICS).read_bytes() == metrics


def test_resume_of_a_run_killed_before_its_first_epoch_starts_it(tmp_path):
    cfg = tiny_config(training__epochs=1)
    rundir.prepare_new(tmp_path / "r", cfg)            # what a kill during epoch 1 leaves
    assert run(cfg, tmp_path / "r", resume=True, progress=False)["epochs"] == 1


@pytest.mark.parametrize("name,content", [
    (rundir.STATUS, b"{not json"), (rundir.STATUS, b"[1, 2]"), (rundir.STATUS, b"\xff\xfe"),
    (rundir.STATUS, b'{"version": 3, "epoch": "x"}'),
    (rundir.SUMMARY, b"{\"test_accuracy\": "), (rundir.SUMMARY, b"42"),
    (rundir.METRICS, b"epoch,test_acc\n1,abc\n"), (rundir.METRICS, b"epoch,test_acc\n1\n"),
    (rundir.METRICS, b"\x00\xff\xfe garbage"),
])
@pytest.mark.parametrize("command", ["plot", "report"])
def test_corrupt_run_files_are_one_line(tiny_run, tmp_path, capsys, name, content, command):
    (tiny_run / name).write_bytes(content)
    args = [command, str(tiny_run)] + (["--out", str(tmp_path / "r.html")] if command == "report" else [])
    assert main(args) == 2
    assert name in one_line(capsys)


def test_health_warnings_pure():
    good = [{"test_acc": 0.9, "train_loss": 0.5}]
    assert training_warnings(good, 10, 10000) == []
    chance = training_warnings([{"test_acc": 0.1, "train_loss": 2.3}], 10, 10000)
    assert len(chance) == 1 and "chance" in chance[0]
    rose = training_warnings([{"test_acc": 0.9, "train_loss": 0.1}, {"test_acc": 0.9, "train_loss": 50.0}], 10, 10000)
    assert len(rose) == 1 and "rose" in rose[0]
    assert 0.1 < chance_margin(10, 10000) < 0.121 and chance_margin(4, 128) > 0.3


def test_huge_learning_rate_warns_and_strict_fails(tmp_path, capsys):
    exp = tmp_path / "e.yaml"
    exp.write_text(yaml.safe_dump(tiny_config_dict(training__lr=1e6, training__epochs=1)))
    rc = main(["run", str(exp), "--out", str(tmp_path / "a"), "--quiet"])
    err = capsys.readouterr().err
    if rc == 1:                                            # blew up to NaN: already a failed run
        assert "NaN" in err or "infinite" in err
        return
    assert rc == 0 and "warning:" in err and "chance" in err
    summary = json.loads((tmp_path / "a" / rundir.SUMMARY).read_text())
    assert summary["warnings"] and "warning:" in (tmp_path / "a" / rundir.LOG).read_text()
    assert main(["run", str(exp), "--out", str(tmp_path / "b"), "--quiet", "--strict"]) == 1
    assert "--strict" in capsys.readouterr().err


def test_a_run_that_learns_has_no_warnings(tiny_run):
    assert json.loads((tiny_run / rundir.SUMMARY).read_text())["warnings"] == []


def test_checkpoint_checksum_cost_is_small(tmp_path):
    """784-500-500-10 with Adam state: the checksum adds well under a second per save and load."""
    tensors = {f"w{i}": torch.randn(*s) for i, s in enumerate([(500, 784), (500, 500), (10, 500)] * 3)}
    path = tmp_path / "c.safetensors"
    t0 = time.perf_counter()
    save_checkpoint(path, tensors, {"epoch": 1})
    load_checkpoint(path)
    assert time.perf_counter() - t0 < 5.0
