"""Bounding a run's work before it starts: memory, threads and seeds.

A config that asks for more memory than the machine has would otherwise hang in the
allocator or be killed without a word; a thread count far above the cores can crash the
thread pool; a seed beyond 64 bits overflows the generators. Each is checked here, before
any data are loaded, and refused with one line.

The memory estimate is deliberately simple and on the high side: float32 state per neuron
and time step (spikes, membrane, current) for a whole training batch over all ``steps``
(backprop-through-time rules keep every step), the evaluation batch over one time chunk,
the weights with their gradient and two optimiser moments, the recording buffers and the
dataset as bytes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Sequence

from .config import input_spec
from .config.datasets import PIXEL_SPECS
from .errors import ConfigError

FLOAT = 4
STATE_VARIABLES = 3            # spikes, membrane, synaptic current
PARAM_COPIES = 4               # weight, gradient, two Adam moments
#: torch.Generator seeds are 64-bit; the trainer multiplies the seed by 65537 and adds epochs
SEED_LIMIT = 2**32


@dataclass(frozen=True)
class Workload:
    """What drives the memory of a run (all counts, no units)."""

    steps: int
    batch: int
    eval_batch: int
    time_chunk: int
    inputs: int                 # input values per sample per step
    neurons: Sequence[int]      # per layer
    params: int
    samples: int                # training + test samples held in memory (as bytes)
    record_samples: int = 0
    record_variables: int = 0


def estimate_bytes(w: Workload) -> int:
    """Peak memory of a run in bytes (see the module docstring for what is counted)."""
    per_step = w.inputs + STATE_VARIABLES * sum(w.neurons)
    train = FLOAT * w.steps * w.batch * per_step
    evaluate = FLOAT * min(w.time_chunk, w.steps) * w.eval_batch * per_step
    weights = FLOAT * PARAM_COPIES * w.params
    recording = FLOAT * w.record_samples * w.steps * sum(w.neurons) * w.record_variables
    dataset = w.samples * w.inputs
    return train + evaluate + weights + recording + dataset


def machine_bytes() -> int:
    """Physical memory of this machine in bytes."""
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except ImportError:  # pragma: no cover - psutil is a dependency
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB"


def check_memory(w: Workload, available: Optional[int] = None) -> int:
    """Refuse a run that needs more memory than the machine has; return the estimate."""
    need = estimate_bytes(w)
    have = machine_bytes() if available is None else available
    if need > have:
        raise ConfigError(
            f"the run needs about {gib(need)} of memory, this machine has {gib(have)} "
            f"(data.steps {w.steps} x training.batch_size {w.batch} x {sum(w.neurons)} neurons, "
            f"eval batch {w.eval_batch}, recording {w.record_samples} samples); lower them")
    return need


def available_cores() -> int:
    """Cores this process may run on (the affinity mask where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def capped_threads(asked: Optional[int]) -> Optional[int]:
    """``training.threads`` capped at the available cores (None: leave torch's default)."""
    if asked is None:
        return None
    return max(1, min(int(asked), available_cores()))


def check_seed(seed: object, key: str = "seed") -> int:
    """A seed is a whole number in [0, 2**32): what every generator of the run accepts."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise ConfigError(f"{key}: expected a whole number from 0 to {SEED_LIMIT - 1}, got {seed!r}")
    return seed


def layer_neurons(config) -> tuple[int, list[int], int]:
    """Inputs per step, neurons per layer and weight count of a config's network, from shapes
    alone (nothing is built)."""
    shape, classes = input_spec(config.data)
    inputs = 1
    for d in shape:
        inputs *= int(d)
    flat = len(shape) != 3
    c, h, wd = (inputs, 1, 1) if flat else (int(shape[0]), int(shape[1]), int(shape[2]))
    neurons, params = [], 0
    for layer in config.network.layers:
        if layer.kind == "conv" and not flat:
            h = (h + 2 * layer.padding - layer.kernel) // layer.stride + 1
            wd = (wd + 2 * layer.padding - layer.kernel) // layer.stride + 1
            h, wd = max(h, 1), max(wd, 1)
            params += c * layer.channels * layer.kernel ** 2
            c = layer.channels
            neurons.append(c * h * wd)
            h, wd = max(h // layer.pool, 1), max(wd // layer.pool, 1)
            params += c * h * wd * classes          # fixed readout
        else:
            fan_in = c * h * wd
            units = layer.units or layer.channels or 1
            params += fan_in * units + units * classes
            neurons.append(units)
            c, h, wd, flat = units, 1, 1, True
    return inputs, neurons, params


def workload(config, n_samples: int) -> Workload:
    """The :class:`Workload` of an experiment config with ``n_samples`` samples in memory."""
    inputs, neurons, params = layer_neurons(config)
    record = config.record
    return Workload(
        steps=config.data.steps, batch=config.training.batch_size,
        eval_batch=config.training.eval_batch_size, time_chunk=config.training.time_chunk,
        inputs=inputs, neurons=neurons, params=params, samples=n_samples,
        record_samples=record.samples if record is not None else 0,
        record_variables=len(record.variables) if record is not None else 0)


def dataset_samples(config) -> int:
    """Pixel samples a config holds in memory (an upper bound; event recordings are binned
    from their cache batch by batch and not counted)."""
    if config.data.dataset == "synthetic":
        return config.data.synthetic.n_train + config.data.synthetic.n_test
    spec = PIXEL_SPECS.get(config.data.dataset)
    return spec[2] if spec else 0
