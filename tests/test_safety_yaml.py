"""The safe YAML loader and bounded work: hostile or broken config files end in one line
with status 2, quickly, before anything large is allocated."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
import yaml

from spikelocal import budget
from spikelocal.cli import main
from spikelocal.errors import ConfigError
from spikelocal.trainer import run
from spikelocal.yamlio import MAX_BYTES, MAX_DEPTH, load_yaml, parse_value, parse_yaml

from conftest import tiny_config, tiny_config_dict

BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi"))


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("spikelocal: error:"), err
    return err[0]


def run_file(tmp_path: Path, capsys, content: bytes | str, *extra: str) -> str:
    path = tmp_path / "e.yaml"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    t0 = time.perf_counter()
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet", *extra]) == 2
    assert time.perf_counter() - t0 < 20
    assert not (tmp_path / "out").exists()
    return one_line(capsys)


def test_billion_laughs_is_refused_without_expanding(tmp_path, capsys):
    line = run_file(tmp_path, capsys, BILLION_LAUGHS)
    assert "e.yaml:1" in line and "aliases" in line


def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path, capsys):
    assert "levels deep" in run_file(tmp_path, capsys, "a: " + "[" * 5000 + "]" * 5000)
    deep = "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5)) + "  " * (MAX_DEPTH + 5) + "v: 1\n"
    assert "levels deep" in run_file(tmp_path, capsys, deep)


def test_a_huge_file_is_refused_before_parsing(tmp_path, capsys):
    content = "name: x\n" + "# filler\n" * (MAX_BYTES // 5)
    line = run_file(tmp_path, capsys, content)
    assert "larger than" in line


def test_duplicate_keys_name_both_lines(tmp_path, capsys):
    cfg = "name: a\nseed: 1\ntraining:\n  lr: 0.1\n  epochs: 2\n  lr: 0.2\n"
    line = run_file(tmp_path, capsys, cfg)
    assert "e.yaml:6" in line and "'lr' given twice (lines 4 and 6)" in line


def test_non_utf8_is_refused_with_its_line(tmp_path, capsys):
    line = run_file(tmp_path, capsys, b"name: a\nseed: 1\nmodel: caf\xe9\n")
    assert "e.yaml:3" in line and "UTF-8" in line


def test_a_folder_or_missing_file_is_one_line(tmp_path, capsys):
    assert main(["run", str(tmp_path), "--quiet"]) == 2
    one_line(capsys)
    assert main(["run", str(tmp_path / "nope.yaml"), "--quiet"]) == 2
    assert "file not found" in one_line(capsys)


def test_loader_still_reads_what_users_write():
    data, lines = parse_yaml("a: 1e-3\nb:\n  - {c: 1}\n  - {c: 2}\n<<: {d: 4}\n", "x.yaml")
    assert data == {"a": 1e-3, "b": [{"c": 1}, {"c": 2}], "d": 4}
    assert lines[("b",)] == 2 and lines[("b", 1, "c")] == 4
    assert parse_value("1e-3") == 1e-3 and parse_value("[1, 2]") == [1, 2] and parse_value("*x") == "*x"


@pytest.mark.parametrize("text", ["{1: a, 1.0: b}", "a: {x: 1, x: 2}", "? [a]\n: 1", "a: 2020-13-45",
                                  "a: !!python/object:os.system x", "a: &x 1"])
def test_loader_rejections_are_config_errors(text):
    with pytest.raises(ConfigError) as err:
        parse_yaml(text, "x.yaml")
    assert str(err.value).startswith("x.yaml") and "\n" not in str(err.value)


def test_load_yaml_reads_a_file(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("a: 1\n")
    assert load_yaml(path)[0] == {"a": 1}


# --------------------------------------------------------------- bounded work ---------
def test_memory_estimate_is_a_pure_function():
    w = budget.Workload(steps=25, batch=128, eval_batch=1000, time_chunk=25, inputs=784,
                        neurons=[500, 500, 10], params=784 * 500 + 500 * 500 + 5000, samples=70_000)
    per_step = 784 + 3 * 1010
    assert budget.estimate_bytes(w) == (4 * 25 * 128 * per_step + 4 * 25 * 1000 * per_step
                                        + 4 * 4 * w.params + 70_000 * 784)
    bigger = budget.Workload(**{**w.__dict__, "steps": 50})
    assert budget.estimate_bytes(bigger) > budget.estimate_bytes(w)
    with pytest.raises(ConfigError, match=r"needs about .* GiB of memory, this machine has 1 GiB"):
        budget.check_memory(budget.Workload(**{**w.__dict__, "steps": 10**6}), available=2**30)
    assert budget.check_memory(w, available=2**40) == budget.estimate_bytes(w)


def test_steps_of_a_trillion_are_refused_before_allocating(tmp_path, capsys):
    cfg = tiny_config_dict()
    cfg["data"]["steps"] = 10**12
    line = run_file(tmp_path, capsys, yaml.safe_dump(cfg))
    assert "this machine has" in line and "GiB" in line


def test_threads_are_capped_by_the_cores(tmp_path):
    before = torch.get_num_threads()
    try:
        summary = run(tiny_config(training__threads=100_000, training__epochs=1), tmp_path / "r", progress=False)
        assert summary["threads"] <= budget.available_cores()
        assert "capped" in (tmp_path / "r" / "log.txt").read_text()
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("seed", [2**70, -1, 2**32])
def test_seeds_must_fit_the_generators(seed, tmp_path):
    with pytest.raises(ConfigError, match="seed"):
        run(tiny_config(seed=seed), tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()


def test_seed_two_to_the_seventy_from_the_cli(tmp_path, capsys):
    cfg = tiny_config_dict()
    cfg["seed"] = 2**70
    assert "seed" in run_file(tmp_path, capsys, yaml.safe_dump(cfg))
