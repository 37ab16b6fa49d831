"""Data-parallel training: two gloo processes on the CPU end with the weights of one process
trained on the same global batches; the shard arithmetic; rank 0 alone writes the run."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from spikelocal import distributed
from spikelocal.trainer import Trainer, run
from spikelocal.data import load_dataset

from conftest import REPO, tiny_config, tiny_config_dict

# 166 samples in global batches of 33: shards of 17 and 16, and a last batch of one sample
# that leaves the second process without samples
OVERRIDES = {"data__synthetic__n_train": 166, "training__batch_size": 33}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(rule: str, epochs: int) -> dict[str, torch.Tensor]:
    config = tiny_config(rule={"name": rule}, **OVERRIDES)
    trainer = Trainer(config, load_dataset(config.data, config.seed))
    metrics = []
    for _ in range(epochs):
        metrics.append(trainer.train_epoch(progress=False))
        trainer.epoch += 1
    state = {k: v.clone() for k, v in trainer.net.state_dict().items()}
    state["acc"] = torch.tensor(metrics[-1]["acc"])
    state["loss"] = torch.tensor(metrics[-1]["loss"], dtype=torch.float64)
    return state


def _worker(rank: int, world: int, port: int, rule: str, epochs: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      LOCAL_RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    distributed.init(torch.device("cpu"))
    try:
        state = _train(rule, epochs)
        if rank == 0:
            torch.save(state, out)
    finally:
        distributed.shutdown()


@pytest.mark.parametrize("rule", ["local", "bp"])
def test_two_gloo_processes_equal_one_process(tmp_path: Path, rule: str) -> None:
    torch.set_num_threads(1)
    single = _train(rule, epochs=2)
    out = tmp_path / "rank0.pt"
    mp.spawn(_worker, args=(2, _free_port(), rule, 2, str(out)), nprocs=2, join=True)
    parallel = torch.load(out)
    for name, value in single.items():
        diff = (parallel[name].double() - value.double()).abs().max().item()
        print(f"{rule} {name}: max abs difference {diff:.3g}")
        # float32 sums in another order, through Adam's normalisation: equal to rounding
        torch.testing.assert_close(parallel[name], value, rtol=1e-4, atol=5e-5)
    moved = sum((single[n] - tiny_config_weights(rule)[n]).abs().max() for n in single if n.endswith("weight"))
    assert moved > 1e-3   # training changed the weights, so equality is not trivial


def tiny_config_weights(rule: str) -> dict[str, torch.Tensor]:
    config = tiny_config(rule={"name": rule}, **OVERRIDES)
    return Trainer(config, load_dataset(config.data, config.seed)).net.state_dict()


def test_shards_cover_the_batch() -> None:
    for batch in (1, 2, 7, 33, 128):
        for world in (1, 2, 3, 8):
            parts = [distributed.shard(batch, r, world) for r in range(world)]
            assert parts[0].start == 0 and parts[-1].stop == batch
            assert all(a.stop == b.start for a, b in zip(parts, parts[1:]))
            sizes = [p.stop - p.start for p in parts]
            assert max(sizes) - min(sizes) <= 1


@pytest.mark.slow
def test_torchrun_cli_writes_rank0_only_and_matches_one_process(tmp_path: Path) -> None:
    import yaml

    cfg = tiny_config_dict(**OVERRIDES)
    cfg["training"]["epochs"] = 1
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", str(_free_port()), "-m", "spikelocal", "run", str(path),
           "--out", str(tmp_path / "ddp"), "--quiet", "--device", "cpu"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("test accuracy") == 1          # printed by rank 0 only
    single = run(tiny_config(training__epochs=1, **OVERRIDES), tmp_path / "one", progress=False)
    ddp = (tmp_path / "ddp" / "metrics.csv").read_text().splitlines()
    one = (tmp_path / "one" / "metrics.csv").read_text().splitlines()
    header = ddp[0].split(",")
    for name in ("train_acc", "test_acc", "train_loss"):
        i = header.index(name)
        assert float(ddp[1].split(",")[i]) == pytest.approx(float(one[1].split(",")[i]), abs=1e-6)
    assert "2 process(es)" in (tmp_path / "ddp" / "log.txt").read_text()
