"""The conv benchmark's arithmetic count, which its fp32 ceiling against BPTT rests on."""
from __future__ import annotations

import importlib.util

from conftest import REPO


def _bench():
    spec = importlib.util.spec_from_file_location("bench_conv", REPO / "bench" / "conv_throughput.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_flops_count_forward_weight_update_and_bptt_backward_data():
    bench = _bench()
    # 64 k7 on 1x28x28 (padding 3): 64*49*784 multiply-adds; 128 k7 on 64x14x14: 128*64*49*196;
    # dense 128*7*7 -> 10
    macs = [64 * 49 * 784, 128 * 64 * 49 * 196, 10 * 128 * 7 * 7]
    assert bench.flops_per_sample_step("k7_64_128", "local") == 4 * sum(macs)
    assert bench.flops_per_sample_step("k7_64_128", "bptt") == 4 * sum(macs) + 2 * sum(macs[1:])
    assert 1.45 < bench.flops_per_sample_step("k7_64_128", "bptt") / 4 / sum(macs) < 1.5
