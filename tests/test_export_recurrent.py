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


def test_nir_file_round_trips_through_spikelocal_import_with_equal_spikes(tmp_path):
    nir = pytest.importorskip("nir")
    from spikelocal.export.nir_export import write_nir
    from spikelocal.export.nir_import import read_nir
    from spikelocal.export.parity import spikelocal_counts

    net = recurrent_net()
    spikes = (torch.rand(3, 30, 6, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    ours = spikelocal_counts(net, spikes)
    assert ours[0].sum() > 0 and ours[1].sum() > 0
    for loops in (False, True):
        write_nir(net, tmp_path / f"net{loops}.nir", dt=1e-4, snntorch_loops=loops)
        assert (("rec1", "lif1") in nir.read(tmp_path / f"net{loops}.nir").edges) != loops
        back = read_nir(tmp_path / f"net{loops}.nir")
        assert back.layers[0].is_recurrent and not back.layers[0].cfg.self_connections
        torch.testing.assert_close(back.layers[0].recurrent_weight(), net.layers[0].recurrent_weight())
        for a, b in zip(ours, spikelocal_counts(back, spikes)):
            assert (a == b).all()


def test_snntorch_runs_the_recurrent_export_with_equal_spike_counts(tmp_path):
    pytest.importorskip("snntorch")
    from spikelocal.export.nir_export import write_nir
    from spikelocal.export.parity import check_snntorch

    net = recurrent_net()
    spikes = (torch.rand(3, 30, 6, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    write_nir(net, tmp_path / "snn.nir", dt=1e-4, snntorch_loops=True)
    out = check_snntorch(net, spikes, tmp_path / "snn.nir")
    assert out["imported"].startswith("the file") and out["class_agreement"] == 1.0, out
    assert out["neuron_count_agreement"]["output"] == 1.0
    # the two-node cycle is what snnTorch's importer rewires: the file is not run, the rebuilt graph is
    write_nir(net, tmp_path / "plain.nir", dt=1e-4)
    rebuilt = check_snntorch(net, spikes, tmp_path / "plain.nir")
    assert "two-node cycle" in rebuilt["imported"] and rebuilt["neuron_count_agreement"]["output"] == 1.0


def test_snntorch_importer_rewires_the_two_node_cycle():
    """The evidence for the loop form: snnTorch 1.0.0 run on the plain cycle gives other spikes."""
    pytest.importorskip("snntorch")
    import contextlib
    import io

    import snntorch.utils
    from snntorch.import_nir import import_from_nir
    from spikelocal.export.nir_export import network_to_nir
    from spikelocal.export.parity import spikelocal_counts

    net = recurrent_net()
    spikes = (torch.rand(3, 30, 6, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    with contextlib.redirect_stdout(io.StringIO()):
        module = import_from_nir(network_to_nir(net, dt=1e-4))
    counts = []
    for sample in spikes:
        snntorch.utils.reset(module)
        state, total = None, torch.zeros(3)
        with torch.no_grad():
            for x in sample:
                y, state = module(x, state)
                total += y.reshape(-1)
        counts.append(total)
    assert not torch.equal(torch.stack(counts), torch.from_numpy(spikelocal_counts(net, spikes)[-1]).float())


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
