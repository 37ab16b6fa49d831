"""Where a run's tensors live and in which precision its matrix products run.

``training.device`` (``auto`` | ``cpu`` | ``cuda`` | ``cuda:N``) names one device for every
tensor of a run: weights, fixed readouts, neuron states, encoded inputs, recordings. ``auto``
is the first CUDA device when PyTorch sees one, else the CPU. Under ``torchrun`` a bare
``cuda`` (or ``auto``) means the process's own GPU, ``cuda:$LOCAL_RANK``.

``training.precision`` (``fp32`` | ``bf16``) is the precision of the synaptic products only
(:meth:`spikelocal.core.layers.Layer.synapse` and ``weight_grad``): their operands are cast
to bfloat16 and the result back to float32, so neuron state, traces, surrogate derivatives,
the readouts and the optimiser's weights stay float32. bf16 keeps float32's exponent range,
so no loss scaling is needed.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator, Optional

import numpy as np
import torch

from .errors import ConfigError

DEVICES_HELP = "auto, cpu, cuda or cuda:N"
PRECISIONS: dict[str, Optional[torch.dtype]] = {"fp32": None, "bf16": torch.bfloat16}


def flush_subnormals() -> bool:
    """Flush subnormal floats to zero on the CPU, on this thread and the threads it starts.

    Why: weights that weight decay shrinks with nothing pushing back (dead units, inputs that
    are always zero), Adam's moments of their gradients and long-silent traces reach
    subnormal floats, on which x86 arithmetic is about 100x slower. Measured: a rate MLP with
    ``weight_decay: 1e-4`` went from 30 to 176 s per epoch by epoch 4 with 7 % of its weights
    subnormal; one product with those weights took 6.8 s instead of 0.05 s. Flushing changes
    no value above 1.2e-38 and keeps runs deterministic. The flag is per thread and new
    threads inherit it: the CLI sets it before any work, so PyTorch's worker threads inherit
    it; :func:`spikelocal.trainer.run` holds it for the run (:func:`subnormals_flushed`).
    numpy's float limits are computed first: numpy derives them by arithmetic, which under
    the flag finds no subnormals and warns on every later ``np.finfo``. Returns False where
    the CPU cannot flush.
    """
    for kind in (np.float16, np.float32, np.float64, np.longdouble):
        np.finfo(kind)   # cached by numpy, computed while subnormals still exist
    return torch.set_flush_denormal(True)


def flushing_subnormals() -> bool:
    """Whether this thread flushes subnormal floats to zero now (torch has no getter)."""
    return (torch.full((1,), 1e-40) * 1.0).item() == 0.0


@contextmanager
def subnormals_flushed() -> Iterator[None]:
    """Flush subnormals inside the block and restore the caller's setting after it, so that
    training from Python leaves the caller's own float arithmetic (numpy, hypothesis, ...)
    as it was. Worker threads PyTorch starts inside the block keep the flag."""
    was = flushing_subnormals()
    flush_subnormals()
    try:
        yield
    finally:
        if not was:
            torch.set_flush_denormal(False)


def resolve_device(spec: str = "auto", key: str = "training.device") -> torch.device:
    """The torch device named by ``spec``; a one-line :class:`ConfigError` when it is not there."""
    text = str(spec).strip().lower()
    local_rank = os.environ.get("LOCAL_RANK")
    if text == "auto":
        text = "cuda" if torch.cuda.is_available() else "cpu"
    if text == "cpu":
        return torch.device("cpu")
    if text == "cuda" or text.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(f"{key}: {spec!r} asked for, but this PyTorch sees no CUDA device "
                              f"(torch {torch.__version__}); use cpu or auto")
        index_text = text[5:] if text.startswith("cuda:") else (local_rank or "0")
        if not index_text.isdigit():
            raise ConfigError(f"{key}: {spec!r} is not a device; expected {DEVICES_HELP}")
        index = int(index_text)
        if index >= torch.cuda.device_count():
            raise ConfigError(f"{key}: {spec!r} asked for, but there are {torch.cuda.device_count()} "
                              f"CUDA devices (0..{torch.cuda.device_count() - 1})")
        return torch.device("cuda", index)
    raise ConfigError(f"{key}: {spec!r} is not a device; expected {DEVICES_HELP}")


def compute_dtype(precision: str, key: str = "training.precision") -> Optional[torch.dtype]:
    """The dtype of the synaptic products for ``precision`` (None: float32 as stored)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"{key}: {precision!r} is not a precision; expected one of {', '.join(PRECISIONS)}")
    return PRECISIONS[precision]


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (for timing); nothing to wait for on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory(device: torch.device) -> Optional[int]:
    """Peak allocated bytes on a CUDA device since the last reset (None on the CPU)."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return None
