"""bench/gpu.py runs end to end at a tiny size on the CPU and writes its JSON."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from conftest import REPO


@pytest.mark.slow
def test_gpu_bench_tiny_on_cpu(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("bench_gpu", REPO / "bench" / "gpu.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "gpu.json"
    result = bench.main(["--device", "cpu", "--tiny", "--cases", "mlp_T25,conv_wide",
                         "--batches", "1", "--warmup", "1", "--json", str(out)])
    stored = json.loads(out.read_text())
    assert stored["device"] == "cpu" and stored["tiny"] is True
    rows = stored["results"]
    impls = {r["impl"] for r in rows}
    assert "spikelocal_local" in impls
    assert {(r["case"], r["precision"]) for r in rows} == {(c, p) for c in ("mlp_T25", "conv_wide")
                                                           for p in ("fp32", "bf16")}
    assert all(r["samples_per_s"] > 0 for r in rows)
    if result["snntorch"]:
        assert "mlp_T25/fp32" in stored["summary"]["local_over_snntorch"]
    assert "mlp_T25/spikelocal_local" in stored["summary"]["bf16_over_fp32"]
