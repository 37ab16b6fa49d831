"""One layer: synapses (dense or 2-D conv), neuron dynamics, sum pooling, fixed readout.

Order inside a layer: ``current = W * input`` -> neurons -> ``activity = sumpool(spikes)``.
The pooled activity is what the next layer receives and what the layer's fixed random
classifier ``G`` (classes x activity size) reads. A ``recurrent`` layer is a dense layer with
a second matrix from its own spikes of the previous step (:meth:`Layer.step` says why it steps
one step at a time). Sum pooling is linear, so an exporter can
fold it into the next layer's weights (on a chip it costs no extra neurons).

``G`` is a registered buffer, never a parameter: no optimiser sees it, and checkpoints
store it so that a resumed run uses the same matrix. The output layer's "readout" is the
identity times ``readout.output_scale``: it learns from its own local loss.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import LayerConfig, NeuronConfig, ReadoutConfig
from .neurons import NeuronModel, build_neuron

Shape = tuple[int, ...]

#: conv layers with at least this many input channels run both convolutions (current and
#: weight update) in the channels-last layout, oneDNN's fast path for them (measured 1.6-2.2x
#: on the 64 -> 128 channel, 7x7 layer, fp32 and bf16); with one or a few input channels the
#: layout only adds copies. Records stay in the default layout: the neuron loops read them flat.
CHANNELS_LAST_MIN = 8


class LayerStep(NamedTuple):
    """What one call of :meth:`Layer.step` produces for K steps (all [K, B, ...])."""

    current: Tensor     # synaptic current W x (+ W_rec s[t-1]); reused buffer with a workspace
    output: Tensor      # spikes (LIF) or rate h (rate neurons), before pooling
    pooled: Tensor      # what the next layer and the readout see (``output`` without pooling)
    membrane: Tensor    # V before the reset (LIF) or the pre-activation a (rate)
    state: tuple[Tensor, ...]
    recurrent_input: Optional[Tensor] = None   # recurrent layers: s[t-1] of each step


class Layer(nn.Module):
    """Synapses + neurons + pooling + fixed readout; see the module docstring."""

    def __init__(self, cfg: LayerConfig, in_shape: Shape, neuron_cfg: NeuronConfig,
                 readout_cfg: ReadoutConfig, num_classes: int, is_output: bool,
                 generator: torch.Generator, weight_scale: float) -> None:
        super().__init__()
        self.cfg = cfg
        self.kind = cfg.kind
        self.in_shape = tuple(in_shape)
        self.neuron_cfg = neuron_cfg
        self.neuron: NeuronModel = build_neuron(neuron_cfg)
        self.is_output = is_output
        if cfg.kind in ("dense", "recurrent"):
            fan_in = math.prod(in_shape)
            w_shape: Shape = (cfg.units, fan_in)
            self.out_shape: Shape = (cfg.units,)
        else:
            if len(in_shape) != 3:
                raise ValueError(f"a conv layer needs [C, H, W] input, got {list(in_shape)}")
            c, h, w = in_shape
            k, s, p = cfg.kernel, cfg.stride, cfg.padding
            oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            if oh <= 0 or ow <= 0:
                raise ValueError(f"kernel {k} does not fit input {h}x{w} with padding {p}")
            fan_in = c * k * k
            w_shape = (cfg.channels, c, k, k)
            self.out_shape = (cfg.channels, oh, ow)
        if cfg.kind == "conv" and cfg.pool > 1:
            ch, oh, ow = self.out_shape
            if oh % cfg.pool or ow % cfg.pool:
                raise ValueError(f"pool {cfg.pool} does not divide the {oh}x{ow} feature map")
            self.pooled_shape: Shape = (ch, oh // cfg.pool, ow // cfg.pool)
        else:
            self.pooled_shape = self.out_shape
        bound = weight_scale / math.sqrt(fan_in)
        if self.neuron.spiking:
            # scale the init by threshold / DC gain so weight_scale means the same for any taus
            bound *= self.neuron.threshold_current
        self.weight = nn.Parameter((torch.rand(w_shape, generator=generator) * 2 - 1) * bound)
        use_bias = cfg.bias if cfg.bias is not None else not self.neuron.spiking
        bias_len = w_shape[0]
        self.bias: Optional[nn.Parameter] = (
            nn.Parameter((torch.rand(bias_len, generator=generator) * 2 - 1) * bound)
            if use_bias else None
        )
        self.recurrent: Optional[nn.Parameter] = None
        if cfg.kind == "recurrent":
            # same scale as the input weights, with the fan-in of the recurrent matrix
            rec_bound = bound * math.sqrt(fan_in / cfg.units)
            rec = (torch.rand((cfg.units, cfg.units), generator=generator) * 2 - 1) * rec_bound
            if not cfg.self_connections:
                rec.fill_diagonal_(0.0)
                self.register_buffer("recurrent_mask", 1.0 - torch.eye(cfg.units))
            self.recurrent = nn.Parameter(rec)
        size = math.prod(self.pooled_shape)
        if is_output:
            if cfg.kind != "dense" or size != num_classes:
                raise ValueError(f"the last layer must be dense with {num_classes} units (one per class)")
            readout = torch.eye(num_classes) * readout_cfg.output_scale
        elif readout_cfg.init == "uniform":
            readout = (torch.rand((num_classes, size), generator=generator) * 2 - 1) * math.sqrt(3.0 / size)
            readout *= readout_cfg.scale
        else:
            readout = torch.randn((num_classes, size), generator=generator) / math.sqrt(size)
            readout *= readout_cfg.scale
        self.register_buffer("readout", readout)
        #: dtype of the synaptic products (None: the weights' own, float32); see
        #: :func:`spikelocal.devices.compute_dtype`. Neuron state and updates stay float32.
        self.compute_dtype: Optional[torch.dtype] = None

    @classmethod
    def dense(cls, in_shape: Shape | int, units: int, neuron: Optional[NeuronConfig] = None,
              num_classes: int = 10, output: bool = False, bias: Optional[bool] = None,
              readout: Optional[ReadoutConfig] = None, weight_scale: float = 1.0,
              seed: int = 0) -> "Layer":
        """A dense layer without writing its config: ``Layer.dense(784, 200, NeuronConfig())``.

        The output layer (``output=True``) has ``units == num_classes``."""
        shape = (in_shape,) if isinstance(in_shape, int) else tuple(in_shape)
        return cls(LayerConfig(kind="dense", units=units, bias=bias), shape, neuron or NeuronConfig(),
                   readout or ReadoutConfig(), num_classes, output, torch.Generator().manual_seed(seed),
                   weight_scale)

    @classmethod
    def conv(cls, in_shape: Shape, channels: int, kernel: int = 3, stride: int = 1, padding: int = 0,
             pool: int = 1, neuron: Optional[NeuronConfig] = None, num_classes: int = 10,
             bias: Optional[bool] = None, readout: Optional[ReadoutConfig] = None,
             weight_scale: float = 1.0, seed: int = 0) -> "Layer":
        """A 2-D conv layer on [C, H, W] input, with sum pooling and a fixed readout."""
        cfg = LayerConfig(kind="conv", channels=channels, kernel=kernel, stride=stride,
                          padding=padding, pool=pool, bias=bias)
        return cls(cfg, tuple(in_shape), neuron or NeuronConfig(), readout or ReadoutConfig(),
                   num_classes, False, torch.Generator().manual_seed(seed), weight_scale)

    # -- synapses ------------------------------------------------------------------------
    @property
    def is_recurrent(self) -> bool:
        return self.recurrent is not None

    def recurrent_weight(self) -> Tensor:
        """W_rec as the neurons see it (zero diagonal without self-connections)."""
        mask = getattr(self, "recurrent_mask", None)
        return self.recurrent if mask is None else self.recurrent * mask

    def init_state(self, batch: int, device: torch.device | str) -> tuple[Tensor, ...]:
        """The neurons' rest state; a recurrent layer adds its last spikes (zeros)."""
        state = self.neuron.init_state((batch, *self.out_shape), torch.device(device))
        if self.is_recurrent:
            dtype = self.weight.dtype
            state = (*(s.to(dtype) for s in state), torch.zeros((batch, *self.out_shape), device=device, dtype=dtype))
        return state

    def _low(self, t: Tensor) -> Tensor:
        """An operand in the product precision (unchanged in float32)."""
        return t if self.compute_dtype is None else t.to(self.compute_dtype)

    def _back(self, t: Tensor) -> Tensor:
        """A product's result back in the weights' dtype (float32)."""
        return t if self.compute_dtype is None else t.to(self.weight.dtype)

    def _operand(self, t: Tensor) -> Tensor:
        """A conv operand in the product precision and in the layout its convolution runs
        fastest in (CHANNELS_LAST_MIN), converted in one pass over memory, not two (copies were a
        third of a bf16 batch's operator time; this pass alone measured about 10 % faster)."""
        dtype = self.compute_dtype or t.dtype
        if self.in_shape[0] >= CHANNELS_LAST_MIN:
            return t.to(dtype=dtype, memory_format=torch.channels_last)
        return t.to(dtype)

    def synapse(self, x: Tensor) -> Tensor:
        """Synaptic current for a batch of inputs [N, *in_shape] -> [N, *out_shape]."""
        if self.kind in ("dense", "recurrent"):
            return self._back(self._low(x.reshape(x.shape[0], -1)) @ self._low(self.weight).t())
        out = F.conv2d(self._operand(x), self._operand(self.weight), stride=self.cfg.stride,
                       padding=self.cfg.padding)
        # back to float32 and to the default layout in one pass
        return out.to(dtype=self.weight.dtype, memory_format=torch.contiguous_format)

    def weight_grad(self, pre: Tensor, delta: Tensor) -> Tensor:
        """dW = sum over the batch of delta (post) x pre (eligibility); one large product.

        For a conv layer this is one weight-gradient convolution over all K*B sample-steps
        of a chunk (oneDNN's backward-weights kernel, no explicit unfold)."""
        if self.kind in ("dense", "recurrent"):
            pre, delta = self._low(pre), self._low(delta)
            return self._back(delta.reshape(delta.shape[0], -1).t() @ pre.reshape(pre.shape[0], -1))
        grad = torch.nn.grad.conv2d_weight(self._operand(pre), self.weight.shape, self._operand(delta),
                                           stride=self.cfg.stride, padding=self.cfg.padding)
        return grad.to(dtype=self.weight.dtype, memory_format=torch.contiguous_format)

    def bias_grad(self, delta: Tensor, bias_trace: Tensor) -> Tensor:
        """db from delta [K, B, *out_shape] and dV/db per step [K]."""
        weighted = delta * bias_trace.view(-1, *([1] * (delta.dim() - 1)))
        dims = [0, 1] + ([3, 4] if self.kind == "conv" else [])
        return weighted.sum(dim=dims)

    # -- pooling and readout -------------------------------------------------------------
    def pool(self, act: Tensor) -> Tensor:
        """Sum pooling of [N, C, H, W] activity (identity without pooling).

        Written as p + p strided additions (rows, then columns): on the CPU this is 2-3x
        faster than ``avg_pool2d`` times p^2, and exact for spikes (small integer sums)."""
        if self.cfg.pool == 1 or self.kind != "conv":
            return act
        p = self.cfg.pool
        rows = act[..., 0::p, :]
        for i in range(1, p):
            rows = rows + act[..., i::p, :]
        out = rows[..., 0::p]
        for j in range(1, p):
            out = out + rows[..., j::p]
        return out

    def pool_adjoint(self, grad: Tensor) -> Tensor:
        """Transpose of :meth:`pool`: each pooled gradient goes to all of its inputs."""
        if self.cfg.pool == 1 or self.kind != "conv":
            return grad
        p = self.cfg.pool
        *lead, h, w = grad.shape
        return grad[..., :, None, :, None].expand(*lead, h, p, w, p).reshape(*lead, h * p, w * p)

    def readout_logits(self, act: Tensor) -> Tensor:
        """Class scores G r for a batch of pooled activity [N, *pooled_shape] -> [N, C]."""
        return act.reshape(act.shape[0], -1) @ self.readout.t()

    def readout_adjoint(self, err: Tensor) -> Tensor:
        """G^T e, shaped like the pooled activity: the layer's modulatory signal."""
        return (err @ self.readout).view(err.shape[0], *self.pooled_shape)

    def step(self, inp: Tensor, state: tuple[Tensor, ...], differentiable: bool = False,
             workspace: Optional[dict[str, Tensor]] = None,
             detach_recurrent: bool = False) -> "LayerStep":
        """K steps of input [K, B, *in_shape] through synapses, neurons and pooling.

        With a ``workspace`` (a dict kept by the caller across chunks) the current and the
        neuron's results reuse the previous chunk's memory (see ``NeuronModel.run``). Callers
        normally go through :mod:`spikelocal.core.simulate`, which records what rules need.
        """
        k, b = inp.shape[:2]
        flat = inp.reshape(k * b, *self.in_shape)
        if self.is_recurrent:
            return self._step_recurrent(self.synapse(flat).view(k, b, *self.out_shape), state,
                                        differentiable, detach_recurrent)
        if workspace is not None and self.kind == "dense" and not differentiable and self.compute_dtype is None:
            out = workspace.get("current")
            if out is None or out.shape != (k * b, self.out_shape[0]):
                out = workspace["current"] = flat.new_empty((k * b, self.out_shape[0]))
            current = torch.mm(flat.reshape(k * b, -1), self.weight.t(), out=out).view(k, b, *self.out_shape)
        else:
            current = self.synapse(flat).view(k, b, *self.out_shape)
        output, membrane, state = self.neuron.run(current, state, self.bias, differentiable, workspace)
        pooled = output
        if self.pooled_shape != self.out_shape:
            pooled = self.pool(output.reshape(k * b, *self.out_shape)).view(k, b, *self.pooled_shape)
        return LayerStep(current, output, pooled, membrane, state)

    def _step_recurrent(self, drive: Tensor, state: tuple[Tensor, ...], differentiable: bool,
                        detach_recurrent: bool) -> "LayerStep":
        """K steps of a recurrent layer, given the input part of the current ``drive`` [K, B, N].

        Why one step at a time: the input part W_in x of all K steps is one batched product
        (as in a dense layer), but W_rec s[t-1] needs the spikes of the step before, so it is
        added step by step and the neuron advances one step per call (K = 1 calls of
        ``neuron.run``). The last spikes travel in the layer's state, so chunks join
        seamlessly, and the loop stays in the core: no rule keeps a copy of it.
        ``detach_recurrent`` cuts the gradient through s[t-1] (BPTT without the recurrent
        dependence: what e-prop computes, used to test it).
        """
        *neuron_state, last = state
        w_rec = self.recurrent_weight()
        nstate = tuple(neuron_state)
        if not differentiable:  # results written in place: no lists, no stacking
            w_t, drive = w_rec.detach().t(), drive.detach()
            currents, outputs = torch.empty_like(drive), torch.empty_like(drive)
            membranes, previous = torch.empty_like(drive), torch.empty_like(drive)
            for k in range(drive.shape[0]):
                previous[k] = last
                torch.addmm(drive[k], last, w_t, out=currents[k])
                out, mem, nstate = self.neuron.run(currents[k:k + 1], nstate, self.bias)
                outputs[k], membranes[k] = out[0], mem[0]
                last = outputs[k]
            return LayerStep(currents, outputs, outputs, membranes, (*nstate, last.clone()), previous)
        currents_l, outputs_l, membranes_l, previous_l = [], [], [], []
        for k in range(drive.shape[0]):
            rec_in = last.detach() if detach_recurrent else last
            previous_l.append(rec_in.detach())
            current = drive[k] + rec_in @ w_rec.t()
            out, mem, nstate = self.neuron.run(current.unsqueeze(0), nstate, self.bias, True)
            currents_l.append(current)
            outputs_l.append(out[0])
            membranes_l.append(mem[0])
            last = out[0]
        output = torch.stack(outputs_l)
        return LayerStep(torch.stack(currents_l), output, output, torch.stack(membranes_l),
                         (*nstate, last), torch.stack(previous_l))

    @property
    def num_neurons(self) -> int:
        return math.prod(self.out_shape)
