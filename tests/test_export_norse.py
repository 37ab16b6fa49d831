"""``--reader norse``: the NIR graph Norse's importer runs with spikelocal's counts, biases included.

Norse is not a dependency. Where it is installed, the real ``norse.torch.from_nir`` runs the
file; everywhere, a few lines below restate the per-step equations of Norse's importer as
its source defines them (``norse/torch/utils/import_nir.py`` with the box cells it builds:
forward Euler ``v += dt/tau (v_leak - v + x)``, every state starting at ``v_leak``,
``CubaLIF`` giving its ``v_leak`` to the synapse and to the membrane, ``r`` ignored by ``LI``
and ``LIF``, reset to 0, default dt 1e-3). They show why the default graph's counts differ
with a bias and that the ``norse`` graph's do not.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import tiny_config
from spikelocal.core.network import Network
from spikelocal.export.brian2_export import spikelocal_counts
from spikelocal.export.nir_export import network_to_nir
from spikelocal.export.nir_norse import NORSE_DT, norse_graph

nir = pytest.importorskip("nir")


def biased_net(conv: bool) -> Network:
    net = Network.from_config(tiny_config(conv=conv).network, (1, 8, 8), 4, seed=0)
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.mul_(50.0)
            n = layer.weight.shape[0]
            layer.bias = torch.nn.Parameter(0.2 * torch.rand(n, generator=g) - 0.05)
    return net


def input_spikes(samples: int = 12, steps: int = 20) -> torch.Tensor:
    return (torch.rand(samples, steps, 1, 8, 8, generator=torch.Generator().manual_seed(1)) < 0.4).float()


def _t(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.float32)


def norse_semantics_counts(graph, spikes: torch.Tensor, dt: float = NORSE_DT) -> np.ndarray:
    """Output spike counts [S, n] of a chain graph run as Norse's importer runs it."""
    order, node = ["input"], "input"
    succ = dict(graph.edges)
    while node in succ:
        node = succ[node]
        order.append(node)
    counts = []
    for sample in spikes:
        state: dict[str, list[torch.Tensor]] = {}
        total = 0
        for x in sample:
            for name in order[1:]:
                n = graph.nodes[name]
                kind = type(n).__name__
                if kind == "Flatten":
                    x = x.reshape(-1)
                elif kind == "Linear":
                    x = x @ _t(n.weight).T
                elif kind == "Affine":
                    x = x @ _t(n.weight).T + _t(n.bias)
                elif kind == "Conv2d":
                    x = F.conv2d(x[None], _t(n.weight), _t(n.bias), tuple(n.stride), tuple(n.padding),
                                 tuple(n.dilation), int(n.groups))[0]
                elif kind == "SumPool2d":
                    k = int(np.asarray(n.kernel_size)[0])
                    x = F.avg_pool2d(x[None], k)[0] * k * k
                elif kind == "LI":
                    (v,) = state.setdefault(name, [_t(n.v_leak).expand_as(x)])
                    x = v + dt / _t(n.tau) * (_t(n.v_leak) - v + x)
                    state[name] = [x]
                elif kind in ("LIF", "CubaLIF"):
                    leak = _t(n.v_leak)
                    tau = _t(n.tau if kind == "LIF" else n.tau_mem)
                    if kind == "CubaLIF":
                        (i, _) = state.setdefault(name, [leak.expand_as(x), leak.expand_as(x)])
                        i = i + dt / _t(n.tau_syn) * (leak - i + _t(n.w_in) * x)
                        x = _t(n.r) * i
                    v = state.setdefault(name, [leak.expand_as(x)] * 2)[-1]
                    v = v + dt / tau * (x + leak - v)
                    x = (v > _t(n.v_threshold)).float()
                    v = torch.where(x > 0, torch.zeros_like(v), v)
                    state[name] = [i, v] if kind == "CubaLIF" else [v, v]
            total = total + x.reshape(-1)
        counts.append(total.numpy().astype(np.int64))
    return np.stack(counts)


@pytest.mark.parametrize("conv", [False, True])
def test_norse_graph_gives_spikelocal_counts_where_the_default_does_not(conv: bool) -> None:
    torch.set_num_threads(1)
    net, spikes = biased_net(conv), input_spikes()
    ours = spikelocal_counts(net, spikes)[-1]
    assert ours.sum() > 0 and len(set(ours.argmax(1))) > 1, "a silent or constant output proves nothing"
    default = norse_semantics_counts(network_to_nir(net, NORSE_DT), spikes)
    assert np.mean(default == ours) < 0.9        # v_leak in the synapse and as the start state
    assert np.array_equal(norse_semantics_counts(norse_graph(net), spikes), ours)


def test_norse_graph_structure() -> None:
    net = biased_net(conv=True)
    graph = norse_graph(net)
    kinds = {name: type(node).__name__ for name, node in graph.nodes.items()}
    for n in (1, 2, 3):
        assert (kinds[f"syn{n}"], kinds[f"lif{n}"]) == ("LI", "LIF")
        assert (f"syn{n}", f"cur{n}") in graph.edges and (f"cur{n}", f"lif{n}") in graph.edges
        assert np.all(np.asarray(graph.nodes[f"lif{n}"].v_leak) == 0)
        assert np.all(np.asarray(graph.nodes[f"syn{n}"].v_leak) == 0)
    assert kinds["cur1"] == "Conv2d" and kinds["cur2"] == "Affine"
    assert graph.metadata["dt"] == NORSE_DT and graph.metadata["written_for"] == "norse"
    assert "CubaLIF" not in kinds.values()
    plain = Network.from_config(tiny_config().network, (1, 8, 8), 4, seed=0)   # no bias: CubaLIF kept
    assert {type(n).__name__ for n in norse_graph(plain).nodes.values()} >= {"CubaLIF"}


def test_norse_export_from_the_cli(tiny_run: Path, tmp_path: Path, capsys) -> None:
    from spikelocal.cli import main

    out = tmp_path / "n.nir"
    assert main(["export", str(tiny_run), "--format", "nir", "--reader", "norse", "--out", str(out),
                 "--check", "4"]) == 0
    printed = capsys.readouterr().out
    assert "norse: " in printed
    graph = nir.read(str(out))
    assert float(np.asarray(graph.metadata["dt"])) == NORSE_DT


@pytest.mark.parametrize("conv", [False, True])
def test_real_norse_runs_the_file_with_equal_counts(conv: bool, tmp_path: Path) -> None:
    pytest.importorskip("norse")
    from spikelocal.export.nir_norse import write_norse
    from spikelocal.export.parity import check_norse

    net, spikes = biased_net(conv), input_spikes()
    write_norse(net, tmp_path / "n.nir")
    figures = check_norse(net, spikes, tmp_path / "n.nir")
    if "skipped" in figures:
        pytest.skip(figures["skipped"])
    assert figures["neuron_count_agreement"]["output"] == 1.0
