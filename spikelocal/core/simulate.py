"""THE time loop: every layer of a network through a chunk of K time steps, with records.

Every consumer of the simulation reads what this module records: the learning rules (the
three factors), evaluation (readout scores and spike counts), the recordings and plots of
:mod:`spikelocal.analysis`, and the float references of the exporters and of the hardware
simulator. None of them keeps a time loop of its own, so a device port, a recurrent layer
or a new neuron model changes this file and the layer/neuron it calls, nothing else.

A chunk is a multi-step call: the synaptic products of K steps are one batched matrix
product per layer, the neuron's step loop runs over the chunk, and the state carries over
to the next chunk, so memory grows with K, never with T. What a caller needs is declared
once in a :class:`Want`; anything not wanted costs neither time nor memory.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import Tensor

from .layers import Layer
from .neurons import State


@dataclass(frozen=True)
class Want:
    """Which per-layer quantities a caller needs recorded (see :class:`LayerRecord`).

    ``derivative`` is written over the membrane's memory unless ``membrane`` is wanted too
    (the membrane is then not recorded: a chunk is large, and every copy is a pass over
    memory). ``differentiable`` keeps an autograd graph through the whole simulation (BPTT);
    with ``cut_recurrent`` the graph does not pass through a recurrent layer's s[t-1] (the
    gradient e-prop computes). ``trace`` also records a recurrent layer's trace of s[t-1];
    ``adaptation`` the adaptation variable of ALIF layers.
    ``reuse_buffers`` lets results of a chunk live in buffers that the next chunk overwrites:
    only for a caller that is done with a chunk's records before it asks for the next one.
    """

    membrane: bool = False
    derivative: bool = False
    trace: bool = False
    current: bool = False
    drive: bool = False
    scores: bool = False
    adaptation: bool = False
    differentiable: bool = False
    reuse_buffers: bool = False
    cut_recurrent: bool = False


@dataclass
class LayerRecord:
    """One layer over one chunk; tensors are [K, B, ...] unless said otherwise."""

    layer: Layer
    input: Tensor                        # the layer's input (pooled output of the layer below)
    output: Tensor                       # spikes or rate, [K, B, *out_shape]
    pooled: Tensor                       # what the next layer and the readout see
    membrane: Optional[Tensor] = None    # V before reset / pre-activation, [K, B, *out_shape]
    derivative: Optional[Tensor] = None  # post-synaptic factor f'(V), [K, B, *out_shape]
    trace: Optional[Tensor] = None       # pre-synaptic eligibility P, [K, B, *in_shape]
    bias_trace: Optional[Tensor] = None  # dV/db per step, [K]
    current: Optional[Tensor] = None     # the current the membrane integrates (LIF: I[t]), [K, B, *out_shape]
    drive: Optional[Tensor] = None       # the synaptic input W x of each step, [K, B, *out_shape]
    scores: Optional[Tensor] = None      # readout scores G r per step, [K, B, classes]
    recurrent_input: Optional[Tensor] = None  # recurrent layers: s[t-1] of each step, [K, B, N]
    recurrent_trace: Optional[Tensor] = None  # its eligibility P (like ``trace``), [K, B, N]
    adaptation: Optional[Tensor] = None       # ALIF: the adaptation a[t], [K, B, N]

    @property
    def steps(self) -> int:
        return self.output.shape[0]


@dataclass
class SimState:
    """What carries from one chunk to the next for one batch."""

    neurons: list[State]   # per layer: the neuron state (recurrent layers: and the last spikes)
    traces: list[State] = field(default_factory=list)
    bias_traces: list[float] = field(default_factory=list)
    steps: int = 0
    recurrent_traces: list[State] = field(default_factory=list)

    def snapshot(self) -> "SimState":
        """A state to go back to. The neuron states are shared, not copied: a neuron model
        never writes the state it is given (it returns a new one), and sharing keeps an
        autograd graph through the snapshot intact."""
        return SimState(list(self.neurons), list(self.traces), list(self.bias_traces), self.steps,
                        list(self.recurrent_traces))


class Simulator:
    """Steps a network chunk by chunk and returns one :class:`LayerRecord` per layer."""

    def __init__(self, layers: "list[Layer] | torch.nn.ModuleList", want: "Want | list[Want]" = Want()) -> None:
        self.layers = list(layers)
        # one Want for every layer, or one per layer (e.g. a graph through the last layer only)
        self.wants = [want] * len(self.layers) if isinstance(want, Want) else list(want)
        if len(self.wants) != len(self.layers):
            raise ValueError(f"{len(self.wants)} Wants for {len(self.layers)} layers")
        self.want = self.wants[0]
        # per layer: a buffer dict for the neuron's results and one for the trace
        self._buffers: list[tuple[dict[str, Tensor], dict[str, Tensor]]] = [({}, {}) for _ in self.layers]
        self._forward_twin: Optional[Simulator] = None
        # dV/db depends only on the layer, the chunk length and the carried trace (not on data),
        # so each chunk's vector is made on the host once and kept on the device: no host-to-
        # device copy inside the time loop after the first batch
        self._bias_traces: dict[tuple[int, int, float, str], tuple[Tensor, float]] = {}

    def _bias_trace(self, i: int, steps: int, carried: float, device: torch.device) -> tuple[Tensor, float]:
        """Layer ``i``'s dV/db for ``steps`` steps from the carried trace, cached per device."""
        key = (i, steps, carried, str(device))
        if key not in self._bias_traces:
            if len(self._bias_traces) > 4096:   # a run has few distinct chunk starts; bound anyway
                self._bias_traces.clear()
            values, after = self.layers[i].neuron.bias_eligibility(steps, carried)
            self._bias_traces[key] = (values.to(device), after)
        return self._bias_traces[key]

    def forward_only(self) -> "Simulator":
        """A twin that records nothing extra (same layers, buffers of its own), made once."""
        if self._forward_twin is None:
            self._forward_twin = Simulator(self.layers, [Want(reuse_buffers=w.reuse_buffers) for w in self.wants])
        return self._forward_twin

    def start(self, batch: int, device: torch.device | str = "cpu") -> SimState:
        """Fresh state for a batch of ``batch`` samples (every sample starts at rest)."""
        neurons = [layer.init_state(batch, device) for layer in self.layers]
        traces: list[State] = []
        recurrent: list[State] = []
        if any(want.trace for want in self.wants):
            traces = [_typed(layer.neuron.init_trace((batch, *layer.in_shape), device), layer)
                      for layer in self.layers]
            recurrent = [_typed(layer.neuron.init_trace((batch, *layer.out_shape), device), layer)
                         for layer in self.layers]
        return SimState(neurons, traces, [0.0] * len(self.layers), recurrent_traces=recurrent)

    def run(self, x: Tensor, state: SimState, upto: Optional[int] = None) -> list[LayerRecord]:
        """Advance ``state`` by the chunk ``x`` [K, B, *input_shape]; records of layers 0..upto-1."""
        k = x.shape[0]
        records: list[LayerRecord] = []
        inp = x
        for i, layer in enumerate(self.layers[:upto]):
            want = self.wants[i]
            buffers = self._buffers[i] if want.reuse_buffers else (None, None)
            before = state.neurons[i]   # neuron.run never writes the state it is given
            step = layer.step(inp, before, want.differentiable, buffers[0], want.cut_recurrent)
            state.neurons[i] = step.state
            rec = LayerRecord(layer, inp, step.output, step.pooled, recurrent_input=step.recurrent_input)
            if want.current:
                rec.current = layer.neuron.synaptic_current(step.current, before)
            if want.drive:
                rec.drive = step.current.clone() if want.reuse_buffers else step.current
            if want.derivative:
                inplace = not want.membrane and not want.differentiable
                rec.derivative = layer.neuron.derivative(step.membrane, inplace=inplace)
            if want.membrane or want.differentiable:
                rec.membrane = step.membrane
            if want.trace:
                rec.trace, state.traces[i] = layer.neuron.eligibility(inp.detach(), state.traces[i], buffers[1])
                if layer.bias is not None:
                    rec.bias_trace, state.bias_traces[i] = self._bias_trace(i, k, state.bias_traces[i], inp.device)
                if step.recurrent_input is not None:
                    rec.recurrent_trace, state.recurrent_traces[i] = layer.neuron.eligibility(
                        step.recurrent_input, state.recurrent_traces[i])
            if want.adaptation and hasattr(layer.neuron, "adaptation"):
                rec.adaptation = layer.neuron.adaptation(step.output, before)
            if want.scores:
                b = step.pooled.shape[1]
                rec.scores = layer.readout_logits(step.pooled.reshape(k * b, *layer.pooled_shape)).view(k, b, -1)
            records.append(rec)
            inp = step.pooled
        state.steps += k
        return records


def _typed(state: State, layer: Layer) -> State:
    """A state in the layer's precision (float64 nets in tests keep float64 traces)."""
    return tuple(s.to(layer.weight.dtype) for s in state)


def run_chunks(sim: Simulator, chunks, on_chunk) -> Optional[SimState]:
    """Drive ``sim`` over an iterable of chunks of one batch, calling ``on_chunk(records, state)``."""
    state: Optional[SimState] = None
    for x in chunks:
        if state is None:
            state = sim.start(x.shape[1], x.device)
        on_chunk(sim.run(x, state), state)
    return state
