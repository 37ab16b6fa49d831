"""e-prop: online learning through time for recurrent (and feed-forward) spiking layers.

Bellec et al., "A solution to the learning dilemma for recurrent networks of spiking
neurons", Nat. Commun. 2020. The gradient of the loss splits into a learning signal, known
at time t, and an eligibility trace computed forward in time
(:mod:`spikelocal.rules.eprop_traces`)::

    dW_ji = sum_t L_j[t] e-bar_ji[t]

Learning signal of a hidden layer, from the output layer's error (the output loss of every
rule, :mod:`spikelocal.rules.window_loss`, with ``window`` and the task's ``score_from``)::

    delta_k[t] = e_k(w(t)) f'_out(V_k[t])          the output's error x its surrogate
    L_j[t]     = sum_k B_kj delta_k[t]

``feedback`` chooses B: ``random`` (random e-prop: a fixed random matrix, drawn once from the
seed and stored in checkpoints), ``symmetric`` (B = W_out, the output weights as they are;
only for the layer right below the output), ``readout`` (the package's idea: no output error
at all; L = G^T e_l from the layer's own fixed random readout G, whose score is read from
the layer's spikes without a filter). The output layer itself learns with its exact
gradient, the three-factor product delta x P of its input (:mod:`spikelocal.core.three_factor`).

The claim tested in ``tests/test_eprop.py``: with ``feedback: symmetric`` the update equals
the BPTT gradient of the same loss with the recurrent dependence cut
(``Want(cut_recurrent=True)``: s[t-1] enters the recurrent current as an input), to float
tolerance, for LIF and ALIF layers and for linear and LIF outputs.

``update: sequence`` (default) applies the update once per sequence (per batch, by the
trainer's optimiser). ``update: chunk`` applies it after every chunk of ``training.time_chunk``
steps (``apply_update``, the optimiser's step, set by the trainer): each chunk's update is its
own mean over batch and steps, the traces and the neuron state carry on across the boundary,
and later chunks run with the new weights: e-prop as an online rule. The last chunk's update
is left in ``grad`` for the trainer's step. (A loss window longer than a chunk has its means
measured before its chunks' updates.) The traces are forward-only, so memory does not grow
with T (``bench/eprop_memory.py`` measures it).
Inputs from a layer below are taken as constants (no error crosses a hidden layer), as in
the local rule.
"""
from __future__ import annotations

import itertools
from typing import Callable, Iterable, Optional

import torch
import torch.distributed as dist
from torch import Tensor

from .. import seeds
from ..config.rules import EpropOptions
from ..core.network import Network
from ..core.simulate import LayerRecord, SimState, Simulator, Want
from ..core.three_factor import accumulate, modulate
from ..core.windows import PieceWindows, run_windows
from ..errors import ConfigError
from . import RULES
from .base import BatchResult, Rule, zero_grads
from .eprop_traces import SynapseTraces, accumulate_eprop
from .window_loss import BatchMetrics, per_step, scale_grads


@RULES.register("eprop")
class EpropRule(Rule):
    """e-prop with the learning signals of the module docstring."""

    Options = EpropOptions

    def __init__(self, net: Network, options: EpropOptions, seed: int) -> None:
        super().__init__(net, options, seed)
        self.simulator = Simulator(net.layers, Want(derivative=True, trace=True))
        hidden = net.layers[:-1]
        if options.feedback == "symmetric" and len(hidden) > 1:
            raise ConfigError("rule.feedback: 'symmetric' feeds W_out back to the layer right below the "
                              f"output only; this network has {len(hidden)} hidden layers (use random or readout)")
        out = net.layers[-1]
        gen = torch.Generator().manual_seed(seeds.eprop_feedback_seed(seed))
        scale = float(out.weight.detach().std()) * options.feedback_scale
        self.feedback = [torch.randn((net.num_classes, layer.num_neurons), generator=gen) * scale
                         for layer in hidden] if options.feedback == "random" else []
        #: ``update: chunk``: applies the grads between chunks (the trainer sets its optimiser's step)
        self.apply_update: Optional[Callable[[], object]] = None

    def state_tensors(self) -> dict[str, Tensor]:
        return {f"feedback{i}": b for i, b in enumerate(self.feedback)}

    def _signal(self, i: int, rec: LayerRecord, delta_out: Tensor, err: Tensor,
                windows: PieceWindows) -> tuple[Tensor, bool]:
        """L [K, B, N] of hidden layer i, and whether it reaches the layer through the output."""
        k, b = rec.output.shape[:2]
        if self.options.feedback == "readout":
            return (per_step(err, k, windows.group_len) @ rec.layer.readout).view(k, b, -1), False
        matrix = self.net.layers[-1].weight if self.options.feedback == "symmetric" else self.feedback[i]
        return delta_out @ matrix.to(delta_out.dtype), True

    @torch.no_grad()
    def compute_updates(self, chunks: Iterable[Tensor], labels: Tensor,
                        active: list[bool]) -> BatchResult:
        zero_grads(self.net)
        metrics = BatchMetrics(self.net, labels, self.loss_fn, self.score_from)
        traces = [SynapseTraces() for _ in self.net.layers]
        out_layer = self.net.layers[-1]
        out_filter: Optional[object] = out_layer.neuron if out_layer.neuron.spiking else None
        b = labels.shape[0]
        per_chunk = self.options.update == "chunk"
        if per_chunk and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            raise ConfigError("rule.update: 'chunk' steps the optimiser inside a batch, where distributed "
                              "training does not average the updates; use 'sequence' under torchrun")
        if per_chunk and self.apply_update is None:
            raise ConfigError("rule.update: 'chunk' applies updates between chunks and needs the optimiser: set "
                              "rule.apply_update = optimizer.step (the trainer does), or use 'sequence'")
        chunks = iter(chunks)
        first = next(chunks, None)
        chunk_len = 0 if first is None else first.shape[0]
        chunks = itertools.chain([] if first is None else [first], chunks)
        pending = [0]  # steps whose update sits in grad, not yet applied

        def update(records: list[LayerRecord], windows: PieceWindows, state: SimState) -> None:
            if per_chunk and pending[0] >= chunk_len:
                scale_grads(self.net, b, pending[0])
                self.apply_update()
                zero_grads(self.net)
                pending[0] = 0
            pending[0] += records[0].output.shape[0]
            errs = [metrics.record(i, rec.layer, windows) for i, rec in enumerate(records)]
            out = records[-1]
            modulator = out_layer.readout_adjoint(errs[-1]).view(-1, b, *out_layer.out_shape)
            delta_out = modulate(out, modulator)          # [K, B, C], over the derivative
            if active[-1]:
                accumulate(out, delta_out)
            for i, rec in enumerate(records[:-1]):
                if active[i]:
                    signal, through_output = self._signal(i, rec, delta_out, errs[i], windows)
                    accumulate_eprop(rec, signal, traces[i], out_filter if through_output else None)

        state = run_windows(self.simulator, chunks, self.options.window, update)
        if state is None:
            raise ValueError("compute_updates got no input chunks")
        scale_grads(self.net, b, pending[0] if per_chunk else state.steps)
        return metrics.result(state.steps)
