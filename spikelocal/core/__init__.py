"""The simulation core: neuron models (each owning its constants), layers, the network, and
the one time loop every consumer reads (:mod:`.simulate`), with loss windows
(:mod:`.windows`) and the three-factor update (:mod:`.three_factor`)."""
from __future__ import annotations

from .alif import ALIF  # registers neuron kind "alif"
from .layers import Layer, LayerStep
from .network import Network, NetworkOutput, SimulationResult, simulate
from .neurons import CubaLIF, NeuronModel, RateNeuron, SURROGATES, build_neuron
from .simulate import LayerRecord, SimState, Simulator, Want
from .three_factor import accumulate, modulate, three_factor
from .windows import PieceWindows, Window, run_windows

__all__ = ["Layer", "LayerStep", "Network", "NetworkOutput", "SimulationResult", "simulate",
           "ALIF", "CubaLIF", "NeuronModel", "RateNeuron", "SURROGATES", "build_neuron", "LayerRecord",
           "SimState", "Simulator", "Want", "accumulate", "modulate", "three_factor",
           "PieceWindows", "Window", "run_windows"]
