"""spikelocal: rate and spiking networks that learn with three-factor local rules.

The public API (what the manual documents)::

    import spikelocal as sl

    config = sl.load_config("experiments/quickstart.yaml")     # validated experiment
    run = sl.train(config)                                      # -> sl.Run
    run.network, run.metrics, run.test_accuracy

    net = sl.Network.from_config(config.network, (1, 28, 28), 10, seed=0)
    out = net(x)                          # x [T, B, 1, 28, 28] -> out.output [T, B, 10], out.records
    rule = sl.rules.build("local", net)   # any rule by name
    encoder = sl.data.SpikeEncoder("rate", steps=10)
    for x, y in batches:
        rule.step(encoder(x), y); optimizer.step()

Stages of a finished run, as functions (the CLI's commands call the same ones)::

    sl.analysis.plot(run, ["raster", "learning"]); sl.analysis.report(run)
    sl.hardware.convert(run, "runs/quickstart/fixed", weight_bits=8)
    sl.export.to_nir(run, "net.nir"); sl.export.to_brian2(run); sl.export.to_netx(run)

Subpackages: ``sl.core`` (neurons, layers, the time loop), ``sl.rules``, ``sl.data``,
``sl.export``, ``sl.hardware``, ``sl.analysis``, ``sl.sweep``.
"""
from .version import __version__  # noqa: E402

from . import analysis, core, data, export, hardware, rules  # noqa: E402
from .api import Run, load_config, load_run, train  # noqa: E402
from .config import ExperimentConfig, LayerConfig, NetworkConfig, NeuronConfig, ReadoutConfig  # noqa: E402
from .core import CubaLIF, Layer, LayerRecord, Network, NetworkOutput, RateNeuron, Simulator, Want  # noqa: E402
from .errors import ConfigError, SpikelocalError  # noqa: E402

__all__ = ["__version__", "analysis", "core", "data", "export", "hardware", "rules", "Run", "load_config", "load_run", "train",
           "ExperimentConfig", "LayerConfig", "NetworkConfig", "NeuronConfig", "ReadoutConfig",
           "CubaLIF", "Layer", "LayerRecord", "Network", "NetworkOutput", "RateNeuron", "Simulator",
           "Want", "ConfigError", "SpikelocalError"]
