"""netx HDF5 (lava-dl's layout) and core files from the fixed-point network, read back with h5py."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from conftest import tiny_config
from spikelocal.errors import ExportError
from spikelocal.export.cores import write_cores
from spikelocal.export.fixed import integer_network
from spikelocal.export.netx import netx_summary, read_netx, read_netx_as_lava, write_netx
from spikelocal.hardware import read_corefile, simulate_integer
from spikelocal.core.network import Network


def integer_net(conv: bool, bias: bool = False):
    cfg = tiny_config(conv=conv)
    net = Network.from_config(cfg.network, (1, 8, 8), 4, seed=0)
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.mul_(50)
        if bias:
            net.layers[1].bias = torch.nn.Parameter(torch.linspace(-0.05, 0.05, 16))
    return integer_network(cfg, net, "loihi", 8, max_weight_exp=0)


def spikes(samples: int = 8, steps: int = 20) -> np.ndarray:
    g = torch.Generator().manual_seed(2)
    return (torch.rand(steps, samples, 1, 8, 8, generator=g) < 0.4).numpy().astype(np.uint8)


def same_integer_network(a, b) -> None:
    assert a.input_shape == b.input_shape and a.num_classes == b.num_classes and a.target == b.target
    for x, y in zip(a.layers, b.layers, strict=True):
        for key in ("kind", "in_shape", "out_shape", "weight_exp", "du", "dv", "vth", "bias_exp", "kernel",
                    "stride", "padding", "pool_folded"):
            assert getattr(x, key) == getattr(y, key), key
        np.testing.assert_array_equal(x.weight, y.weight)
        assert (x.bias_mant is None) == (y.bias_mant is None)
        if x.bias_mant is not None:
            np.testing.assert_array_equal(x.bias_mant, y.bias_mant)


@pytest.mark.parametrize("conv", [False, True])
def test_netx_reads_back_into_the_same_integer_network(tmp_path: Path, conv: bool) -> None:
    int_net = integer_net(conv, bias=not conv)
    write_netx(int_net, tmp_path / "n.net")
    back = read_netx(tmp_path / "n.net")
    same_integer_network(int_net, back)
    x = spikes()
    a, b = simulate_integer(int_net, x), simulate_integer(back, x)
    assert a.counts[-1].sum() > 0
    for u, v in zip(a.counts, b.counts):
        np.testing.assert_array_equal(u, v)


def test_netx_layout_is_what_lava_dl_reads(tmp_path: Path) -> None:
    int_net = integer_net(conv=True)
    write_netx(int_net, tmp_path / "n.net")
    with h5py.File(tmp_path / "n.net", "r") as f:
        layers = f["layer"]
        assert sorted(layers, key=int) == ["0", "1", "2", "3", "4"]
        for key in layers:
            g = layers[key]
            assert g["type"].dtype.kind == "S" and g["type"].shape == (1,)  # byte strings, as NetDict decodes
            assert g["shape"].dtype.kind == "i"
            if "weight" in g:
                assert g["weight"].dtype.kind == "i"
            if "neuron" in g:
                n = g["neuron"]
                assert n["type"][0].decode("ascii") == "CUBA"
                for k in ("iDecay", "vDecay", "vThMant", "refDelay"):
                    assert n[k].dtype.kind == "i" and n[k].shape == ()
        conv = layers["1"]
        assert conv["weight"].shape == (4, 1, 3, 3)
        assert list(conv["shape"][()][::-1]) == [8, 8, 4]  # lava reads WHC by reversing CHW
        assert int(np.abs(conv["weight"][()]).max()) <= 254
    rows = netx_summary(tmp_path / "n.net")
    assert [r["type"] for r in rows] == ["input", "conv", "flatten", "dense", "dense"]
    lay = int_net.layers[0]
    assert rows[1]["neuron"]["iDecay"] == lay.du + 1 and rows[1]["neuron"]["vDecay"] == lay.dv
    assert rows[1]["neuron"]["vThMant"] == lay.vth


@pytest.mark.parametrize("conv", [False, True])
def test_what_lava_dl_reads_is_the_same_integer_network(tmp_path: Path, conv: bool) -> None:
    """Only the datasets lava-dl reads (no spikelocal attributes), with lava-dl's mapping
    (du = iDecay - 1, bias exponent 6, weight exponent 0), spike like the original."""
    int_net = integer_net(conv)
    write_netx(int_net, tmp_path / "n.net")
    with h5py.File(tmp_path / "n.net", "a") as f:  # a foreign file: strip everything lava-dl ignores
        del f["spikelocal"]
        for g in f["layer"].values():
            for key in list(g.attrs):
                del g.attrs[key]
    lava = read_netx_as_lava(tmp_path / "n.net")
    assert [x.kind for x in lava.layers] == [x.kind for x in int_net.layers]
    for x, y in zip(int_net.layers, lava.layers):
        assert (y.du, y.dv, y.vth, y.out_shape) == (x.du, x.dv, x.vth, x.out_shape)
        np.testing.assert_array_equal(y.effective_weight(), x.effective_weight())
    x = spikes()
    a, b = simulate_integer(int_net, x), simulate_integer(lava, x)
    assert all(c.sum() > 0 for c in a.counts)
    for u, v in zip(a.counts, b.counts):
        np.testing.assert_array_equal(u, v)


def test_flat_input_is_a_map_with_a_flatten_for_lava_dl(tmp_path: Path) -> None:
    cfg = tiny_config()
    net = Network.from_config(cfg.network, (64,), 4, seed=0)
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.mul_(50)
    int_net = integer_network(None, net, "loihi", 8, max_weight_exp=0)
    write_netx(int_net, tmp_path / "n.net")
    rows = netx_summary(tmp_path / "n.net")
    assert [r["type"] for r in rows] == ["input", "flatten", "dense", "dense", "dense"]
    assert rows[0]["shape"] == [64, 1, 1]  # lava-dl's Input block reads [W, H, C] = [1, 1, 64]
    x = spikes().reshape(20, 8, 64)
    a = simulate_integer(int_net, x)
    b = simulate_integer(read_netx_as_lava(tmp_path / "n.net"), x.reshape(20, 8, 64, 1, 1))
    assert a.counts[-1].sum() > 0
    for u, v in zip(a.counts, b.counts):
        np.testing.assert_array_equal(u, v)
    same_integer_network(int_net, read_netx(tmp_path / "n.net"))


def test_lava_view_refuses_what_it_cannot_run(tmp_path: Path) -> None:
    write_netx(integer_net(conv=True), tmp_path / "n.net")
    with h5py.File(tmp_path / "n.net", "a") as f:
        f["layer"]["1"]["dilation"][...] = [2, 2]
    with pytest.raises(ExportError, match=r"n.net: layer 1 \(conv\): .*dilation 1"):
        read_netx_as_lava(tmp_path / "n.net")
    with h5py.File(tmp_path / "sdnn.net", "w") as f:
        g = f.create_group("layer/0")
        g.create_dataset("type", (1,), "S10", [b"dense"])
        g.create_dataset("shape", data=np.array([3]))
        g.create_dataset("weight", data=np.ones((3, 4), np.int64))
        n = g.create_group("neuron")
        n.create_dataset("type", (1,), "S10", [b"SDNN"])
    with pytest.raises(ExportError, match=r"sdnn.net: layer 0 \(dense\): needs a CUBA neuron"):
        read_netx_as_lava(tmp_path / "sdnn.net")
    write_netx(integer_net(conv=True), tmp_path / "n.net")
    with h5py.File(tmp_path / "n.net", "a") as f:
        del f["layer"]["3"]["weight"]
    with pytest.raises(ExportError, match=r"n.net: not a netx file lava-dl can read \(.*weight"):
        read_netx_as_lava(tmp_path / "n.net")


def test_cores_file_reads_back(tmp_path: Path) -> None:
    int_net = integer_net(conv=True)
    mapping = write_cores(int_net, tmp_path / "c.h5")
    assert mapping["cores_used"] >= 3
    same_integer_network(int_net, read_corefile(tmp_path / "c.h5"))


def test_foreign_files_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_group("layer")
    with pytest.raises(ExportError, match="other.h5: not a netx file written by spikelocal"):
        read_netx(other)
    junk = tmp_path / "junk.net"
    junk.write_text("hello")
    with pytest.raises(ExportError, match="junk.net: not a readable netx HDF5 file"):
        read_netx(junk)
