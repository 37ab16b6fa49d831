"""netx HDF5: lava-dl's network exchange layout, written from a fixed-point network.

Layout (what ``lava.lib.dl.netx.hdf5.Network`` and its ``NetDict`` read; Shrestha et al.,
lava-dl SLAYER/netx)::

    /layer/0   type=b"input"  shape=[C,H,W] ([D,1,1] for flat input)  weight=1 bias=1  neuron{...}
    /layer/i   type=b"conv"   shape=[C,H,W] weight=[Co,Ci,k,k] stride=[s,s] padding=[p,p]
                              dilation=[1,1] groups=1 [bias=[Co]] neuron{...}
    /layer/i   type=b"flatten" shape=[N]        (before a dense layer after the input or a conv)
    /layer/i   type=b"dense"  shape=[N] weight=[N,N_in] [bias=[N]] neuron{...}
    neuron:    type=b"CUBA" iDecay vDecay vThMant refDelay=1   (int64 scalars)

Strings are fixed-length ASCII byte strings of shape (1,) (``type``), numbers are integer
datasets. lava-dl's reader maps ``du = iDecay - 1``, ``dv = vDecay``, ``vth = vThMant`` and
fixes the bias exponent to 6; our compartment (:mod:`spikelocal.hardware.simulator`) has
u decaying by (4096 - du - 1)/4096, so ``iDecay = du + 1``, ``vDecay = dv``, ``vThMant = vth``.
``weight`` holds the effective integer weights ``w_mant * 2**weight_exp`` (lava-dl derives
its own exponent from them and clips to [-256, 254], so the export quantises with the weight
exponent capped at 0), and ``bias`` is ``bias_mant * 2**(bias_exp - 6)``.
Pooling is already folded into the next layer (kernel k*p, stride s*p, padding q*p).

The input layer is lava-dl's Input block set up as a relay: with weight = bias = 1 its
transform 2*w*x - w + b sends 2 for an input spike and 0 otherwise, and a neuron that fully
decays (iDecay = vDecay = 4096) with vThMant = 1 fires exactly when its input spiked.

Everything needed to rebuild the exact :class:`IntegerNetwork` (mantissas, exponents,
target, pool folding) is also kept in attributes (``/spikelocal`` and each layer group's
``spikelocal_*``), which lava-dl ignores; :func:`read_netx` uses them.
"""
from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np

from ..errors import ExportError
from ..h5read import open_hdf5
from .common import atomic_output
from ..hardware import IntegerLayer, IntegerNetwork, Target, load_target

FORMAT = "spikelocal-netx"
VERSION = 1
LAVA_BIAS_EXP = 6


def _type(group, name: str) -> None:
    group.create_dataset("type", (1,), "S10", [name.encode("ascii")])


def _neuron(group, i_decay: int, v_decay: int, vth: int) -> None:
    g = group.create_group("neuron")
    _type(g, "CUBA")
    for key, value in (("iDecay", i_decay), ("vDecay", v_decay), ("vThMant", vth), ("refDelay", 1)):
        g.create_dataset(key, data=np.int64(value))


def _lava_bias(bias_mant: np.ndarray, bias_exp: int, layer: int) -> np.ndarray:
    shift = bias_exp - LAVA_BIAS_EXP
    b = bias_mant.astype(np.int64)
    if shift >= 0:
        return b << shift
    rounded = np.round(b / 2.0 ** -shift).astype(np.int64)
    if np.any(rounded << -shift != b):
        warnings.warn(f"layer{layer}: lava-dl fixes the bias exponent to 6; the netx 'bias' is rounded "
                      "(exact mantissas kept in spikelocal_bias_mant)", stacklevel=3)
    return rounded


def write_netx(int_net, path: str | os.PathLike[str], dt: float = 1e-3) -> None:
    """Write an :class:`~spikelocal.hardware.IntegerNetwork` as netx HDF5 (atomically)."""
    import h5py

    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        meta = f.create_group("spikelocal")
        meta.attrs.update({"format": FORMAT, "version": VERSION, "target": int_net.target.model_dump_json(),
                           "weight_bits": int_net.weight_bits, "input_shape": list(int_net.input_shape),
                           "num_classes": int_net.num_classes, "dt": float(dt)})
        layers = f.create_group("layer")
        g = layers.create_group("0")
        _type(g, "input")
        shape = tuple(int_net.input_shape)  # lava-dl's Input block takes a [C, H, W] map (read as WHC)
        g.create_dataset("shape", data=np.array(shape if len(shape) == 3 else (math.prod(shape), 1, 1), np.int64))
        g.create_dataset("weight", data=np.int64(1))
        g.create_dataset("bias", data=np.int64(1))
        unity = int_net.target.decay_unity
        _neuron(g, unity, unity, 1)
        index = 1
        prev_conv = True  # the input block is a map: a dense layer after it reads it through a flatten
        for l, layer in enumerate(int_net.layers, start=1):
            if layer.kind == "dense" and prev_conv:
                fg = layers.create_group(str(index))
                _type(fg, "flatten")
                fg.create_dataset("shape", data=np.array([layer.num_inputs], np.int64))
                index += 1
            g = layers.create_group(str(index))
            index += 1
            _type(g, layer.kind)
            g.create_dataset("shape", data=np.array(layer.out_shape, np.int64))
            g.create_dataset("weight", data=layer.effective_weight().astype(np.int64), compression="gzip")
            if layer.kind == "conv":
                g.create_dataset("stride", data=np.array([layer.stride] * 2, np.int64))
                g.create_dataset("padding", data=np.array([layer.padding] * 2, np.int64))
                g.create_dataset("dilation", data=np.array([1, 1], np.int64))
                g.create_dataset("groups", data=np.int64(1))
            if layer.bias_mant is not None:
                g.create_dataset("bias", data=_lava_bias(layer.bias_mant, layer.bias_exp, l))
                g.attrs["spikelocal_bias_mant"] = layer.bias_mant.astype(np.int64)
            _neuron(g, layer.du + 1, layer.dv, layer.vth)
            g.attrs.update({"spikelocal_layer": l, "spikelocal_weight_exp": layer.weight_exp,
                            "spikelocal_bias_exp": layer.bias_exp, "spikelocal_in_shape": list(layer.in_shape),
                            "spikelocal_kernel": layer.kernel, "spikelocal_scale": layer.scale,
                            "spikelocal_pool_folded": layer.pool_folded})
            prev_conv = layer.kind == "conv"
        big = max((int(np.abs(x.effective_weight()).max(initial=0)) for x in int_net.layers), default=0)
        if big > 254:
            warnings.warn(f"{path}: effective weights reach {big}; lava-dl's reader clips weights to "
                          "[-256, 254]", stacklevel=2)


def _text(ds) -> str:
    value = ds[0] if ds.shape else ds[()]
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def read_netx(path: str | os.PathLike[str]):
    """Read a netx file written by :func:`write_netx` back into the same ``IntegerNetwork``."""
    path = Path(path)
    f = open_hdf5(path, "netx HDF5 file")
    with f:
        meta = f.get("spikelocal")
        if "layer" not in f or meta is None or meta.attrs.get("format") != FORMAT:
            raise ExportError(f"{path}: not a netx file written by spikelocal (needs /layer and /spikelocal "
                              f"with format {FORMAT!r})")
        target = Target.model_validate_json(meta.attrs["target"])
        layers = []
        for key in sorted(f["layer"], key=int):
            g = f["layer"][key]
            kind = _text(g["type"])
            if kind in ("input", "flatten"):
                continue
            if kind not in ("dense", "conv"):
                raise ExportError(f"{path}: layer {key} has type {kind!r}; spikelocal reads input, flatten, "
                                  "dense and conv")
            exp = int(g.attrs["spikelocal_weight_exp"])
            w = g["weight"][()].astype(np.int64)
            mant = w >> exp if exp >= 0 else w << -exp
            n = g["neuron"]
            bias = g.attrs["spikelocal_bias_mant"].astype(np.int64) if "spikelocal_bias_mant" in g.attrs else None
            layers.append(IntegerLayer(
                kind=kind, in_shape=tuple(int(v) for v in g.attrs["spikelocal_in_shape"]),
                out_shape=tuple(int(v) for v in g["shape"][()]), weight=mant, weight_exp=exp,
                du=int(n["iDecay"][()]) - 1, dv=int(n["vDecay"][()]), vth=int(n["vThMant"][()]),
                bias_mant=bias, bias_exp=int(g.attrs["spikelocal_bias_exp"]),
                kernel=int(g.attrs["spikelocal_kernel"]),
                stride=int(g["stride"][0]) if "stride" in g else 1,
                padding=int(g["padding"][0]) if "padding" in g else 0,
                scale=float(g.attrs["spikelocal_scale"]), pool_folded=int(g.attrs["spikelocal_pool_folded"])))
        return IntegerNetwork(layers, tuple(int(v) for v in meta.attrs["input_shape"]), target,
                              int(meta.attrs["weight_bits"]), int(meta.attrs["num_classes"]))


def read_netx_as_lava(path: str | os.PathLike[str], target: str = "loihi"):
    """The integer network that lava-dl's ``netx.hdf5.Network`` builds from ``path``, read the
    way its ``NetDict`` reads (``type`` decoded from bytes, other keys as integer arrays) from
    the datasets alone: spikelocal's attributes are ignored, so this also reads CUBA dense/conv
    netx files written by other tools (lava-dl's ``export_hdf5``).

    lava-dl's mapping: ``du = iDecay - 1``, ``dv = vDecay``, ``vth = vThMant``, bias exponent 6,
    weight exponent 0 with dense weights clipped to [-256, 254] (its ``optimize_weight_bits``
    only rescales them), a ``flatten`` layer turns the previous WHC map back into C-order CHW.
    An ``input`` layer must be a spike relay (full decays and ``w + b > vThMant >= b - w``:
    its input transform ``2 w x - w + b`` crosses the threshold exactly for a spike);
    without one, the first layer must be dense. Pooling, ``delay``, dilation and groups are
    refused (spikelocal's integer simulator has none of them).
    """
    path = Path(path)
    tgt = load_target(target)
    f = open_hdf5(path, "netx HDF5 file")
    with f:
        try:
            return _lava_network(f, path, tgt)
        except ExportError:
            raise
        except (KeyError, ValueError, TypeError, IndexError) as exc:  # a dataset missing or malformed
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ExportError(f"{path}: not a netx file lava-dl can read ({msg})") from None


def _lava_network(f, path: Path, tgt):
    """The body of :func:`read_netx_as_lava` on an open file."""
    if "layer" not in f or not len(f["layer"]):
        raise ExportError(f"{path}: not a netx file (no /layer group with layers 0, 1, ...)")
    group = f["layer"]
    layers: list = []
    input_shape: tuple[int, ...] | None = None
    shape: tuple[int, ...] | None = None  # CHW (or [N]) of the previous layer
    for i in range(len(group)):
        if str(i) not in group:
            raise ExportError(f"{path}: /layer has no group {i!r}; lava-dl reads layers 0..{len(group) - 1}")
        g = group[str(i)]
        kind = _text(g["type"]) if "type" in g else "?"
        where = f"{path}: layer {i} ({kind})"
        if kind == "flatten":
            continue
        if kind not in ("input", "dense", "conv"):
            raise ExportError(f"{where}: spikelocal reads input, flatten, dense and conv layers")
        n = g["neuron"] if "neuron" in g else None
        if n is None or _text(n["type"]) not in ("CUBA", "LOIHI"):
            raise ExportError(f"{where}: needs a CUBA neuron group (iDecay, vDecay, vThMant)")
        if "delay" in g:
            raise ExportError(f"{where}: synaptic delays are not supported")
        i_decay, v_decay, vth = (int(n[k][()]) for k in ("iDecay", "vDecay", "vThMant"))
        out_shape = tuple(int(v) for v in np.asarray(g["shape"][()]).reshape(-1))
        if kind == "input":
            w = int(g["weight"][()]) if "weight" in g else 64
            b = int(g["bias"][()]) if "bias" in g else 0
            unity = tgt.decay_unity
            if i or not (i_decay == v_decay == unity and w + b > vth >= b - w):
                raise ExportError(f"{where}: must be layer 0 and a spike relay (iDecay = vDecay = {unity}, "
                                  f"w + b > vThMant >= b - w); got weight {w}, bias {b}, iDecay {i_decay}, "
                                  f"vDecay {v_decay}, vThMant {vth}")
            input_shape = shape = out_shape
            continue
        weight = np.asarray(g["weight"][()]).astype(np.int64)
        if kind == "dense":
            weight = np.clip(weight.reshape(math.prod(out_shape), -1), -256, 254)
            if shape is None:
                input_shape = shape = (weight.shape[1],)
            in_shape, kernel, stride, padding = shape, 1, 1, 0
        else:
            if shape is None or len(shape) != 3:
                raise ExportError(f"{where}: a conv layer needs a [C, H, W] input layer before it")
            weight = weight.reshape(weight.shape[:4])
            stride, padding, dil = (np.asarray(g[k][()]).reshape(-1) for k in ("stride", "padding", "dilation"))
            if (weight.shape[2] != weight.shape[3] or np.any(dil != 1) or int(np.asarray(g["groups"][()])) != 1
                    or stride.min() != stride.max() or padding.min() != padding.max()):
                raise ExportError(f"{where}: spikelocal reads square kernels with equal stride and padding, "
                                  "dilation 1 and groups 1")
            in_shape, kernel, stride, padding = shape, weight.shape[-1], int(stride[0]), int(padding[0])
        if weight.shape[1] != (math.prod(in_shape) if kind == "dense" else in_shape[0]):
            raise ExportError(f"{where}: weight {list(weight.shape)} does not fit the input {list(in_shape)}")
        bias = np.asarray(g["bias"][()]).astype(np.int64).reshape(-1) if "bias" in g else None
        layers.append(IntegerLayer(
            kind=kind, in_shape=tuple(in_shape), out_shape=out_shape, weight=weight, weight_exp=0,
            du=i_decay - 1, dv=v_decay, vth=vth, bias_mant=bias, bias_exp=LAVA_BIAS_EXP, kernel=int(kernel),
            stride=stride, padding=padding))
        shape = out_shape
    if not layers:
        raise ExportError(f"{path}: no dense or conv layer")
    return IntegerNetwork(layers, tuple(input_shape), tgt, tgt.weight_bits_max, layers[-1].num_neurons)


def netx_summary(path: str | os.PathLike[str]) -> list[dict]:
    """What lava-dl's ``NetDict`` sees, layer by layer (for docs and tests)."""
    import h5py

    out = []
    with h5py.File(path, "r") as f:
        for key in sorted(f["layer"], key=int):
            g = f["layer"][key]
            row = {"layer": int(key), "type": _text(g["type"]), "shape": g["shape"][()].tolist()}
            if "neuron" in g:
                row["neuron"] = {k: (_text(v) if k == "type" else int(v[()])) for k, v in g["neuron"].items()}
            out.append(row)
    return out


__all__ = ["write_netx", "read_netx", "read_netx_as_lava", "netx_summary", "FORMAT"]
