"""Exports of recurrent networks: NIR holds the recurrent edge (snnTorch runs it with the same
spikes); formats and converters that cannot hold recurrence or adaptation refuse in one line."""
from __future__ import annotations

import pytest
import torch

from spikelocal.config import NetworkConfig
from spikelocal.core import Network
from spikelocal.errors import ExportError
from spikelocal.export.common import require_feed_forward


def recurrent_net(kind: str = "lif") -> Network:
    cfg = NetworkConfig.model_validate({
        "neuron": {"kind": kind, "reset": "hard"}, "weight_scale": 8.0,
        "layers": [{"kind": "recurrent", "units": 12, "self_connections": False}, {"kind": "dense", "units": 3}]})
    net = Network.from_config(cfg, (6,), 3, 0)
    with torch.no_grad():
        net.layers[0].recurrent.mul_(2.0)
        net.layers[0].weight.abs_()          # enough drive that every layer spikes
        net.layers[1].weight.abs_().mul_(3.0)
    return net


def test_nir_graph_has_the_recurrent_edge_and_type_checks():
    nir = pytest.importorskip("nir")
    from spikelocal.export.nir_export import network_to_nir

    net = recurrent_net()
    graph = network_to_nir(net, dt=1e-4)
    assert ("lif1", "rec1") in graph.edges and ("rec1", "lif1") in graph.edges
    torch.testing.assert_close(torch.from_numpy(graph.nodes["rec1"].weight), net.layers[0].recurrent_weight().detach())
    assert isinstance(graph.nodes["lif1"], nir.CubaLIF)


def test_nir_file_round_trips_and_snntorch_parity_says_why_it_is_skipped(tmp_path):
    nir = pytest.importorskip("nir")
    from spikelocal.export.nir_export import write_nir
    from spikelocal.export.parity import check_snntorch

    net = recurrent_net()
    write_nir(net, tmp_path / "net.nir", dt=1e-4)
    graph = nir.read(tmp_path / "net.nir")
    assert ("rec1", "lif1") in graph.edges
    spikes = (torch.rand(2, 10, 6, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    assert "RSynaptic" in check_snntorch(net, spikes)["skipped"]


def test_brian2_runs_the_recurrent_network_with_equal_spike_counts():
    pytest.importorskip("brian2")
    from spikelocal.export.brian2_export import brian2_counts, spikelocal_counts

    net = recurrent_net()
    spikes = (torch.rand(3, 20, 6, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    ours, theirs = spikelocal_counts(net, spikes), brian2_counts(net, spikes)
    assert ours[0].sum() > 0 and ours[1].sum() > 0
    for a, b in zip(ours, theirs):
        assert (a == b).all()


@pytest.mark.parametrize("fmt", ["netx", "cores", "fixed-point conversion"])
def test_formats_without_recurrence_refuse_in_one_line(fmt):
    with pytest.raises(ExportError, match=f"layer1: {fmt} cannot hold a recurrent layer"):
        require_feed_forward(recurrent_net(), fmt)


def test_nir_refuses_adaptive_neurons():
    from spikelocal.export.nir_export import network_to_nir

    with pytest.raises(ExportError, match="adaptive threshold of an 'alif' neuron"):
        network_to_nir(recurrent_net("alif"))


def test_weights_plot_shows_the_recurrent_matrix():
    from types import SimpleNamespace

    from spikelocal.analysis.plots_training import weights
    from spikelocal.analysis.plot_style import plt

    data = SimpleNamespace(net=recurrent_net(), label="run", rows=[], recording=None)
    fig = weights(data, [1, 2])
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 1 and images[0].images[0].get_array().shape == (12, 12)
    plt.close(fig)
