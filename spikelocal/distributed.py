"""Data-parallel training with ``torch.distributed``, launched by ``torchrun``.

    torchrun --nproc_per_node 2 -m spikelocal run EXPERIMENT.yaml

starts one process per GPU (NCCL) or per CPU socket (gloo); ``training.batch_size`` stays
the GLOBAL batch. Every process draws the same shuffling and the same encoded spikes of the
whole global batch (the generators are functions of the seed and the batch's position, as
in a single process) and keeps its contiguous slice of the batch, so the union of the slices
is exactly the single process's batch. Each process computes its slice's updates, which
every rule scales by 1 / (B_local T); :func:`average_grads` weights them by B_local / B and
sums them over processes with one all-reduce before the optimiser step, which gives the
single process's 1 / (B T) sum over the batch. Every process then takes the same optimiser
step from the same weights, so the weights stay equal without broadcasting them.
Evaluation batches are shared round-robin and their counts summed.

The run directory (config, checkpoints, metrics, log, summary) is written by rank 0 only;
a resumed run reads rank 0's checkpoint on every process (a directory all nodes see), with
the same world size. Rules whose update couples the samples of a batch (beyond a mean over
it) are not exactly equal to one process; every rule of the package is a mean over samples.
"""
from __future__ import annotations

import os
from datetime import timedelta
from typing import Iterable, Iterator, Optional

import torch
import torch.distributed as dist
from torch import Tensor


def launched() -> bool:
    """Whether this process was started by torchrun (or another launcher) with several ranks."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device: torch.device) -> None:
    """Join the process group of torchrun's environment (NCCL for CUDA, gloo for the CPU);
    nothing in a single process or when already joined."""
    if not launched() or dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, timeout=timedelta(minutes=30))


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Whether this process writes the run directory (rank 0, or the only process)."""
    return rank() == 0


def is_main_process() -> bool:
    """Rank 0 of the launcher's environment (still true after the group is shut down)."""
    return int(os.environ.get("RANK", "0")) == 0


def shard(batch: int, of_rank: Optional[int] = None, world_size: Optional[int] = None) -> slice:
    """This rank's contiguous slice of a global batch of ``batch`` samples (sizes differ by at
    most one; a rank may get none of a last batch smaller than the world)."""
    r = rank() if of_rank is None else of_rank
    w = world() if world_size is None else world_size
    base, extra = divmod(batch, w)
    start = r * base + min(r, extra)
    return slice(start, start + base + (1 if r < extra else 0))


def shard_chunks(chunks: Iterable[Tensor], part: slice) -> Iterator[Tensor]:
    """Each encoded chunk [K, B, ...] of the global batch cut to this rank's samples."""
    for x in chunks:
        yield x[:, part]


def average_grads(params: list[torch.nn.Parameter], local: int, batch: int,
                  extra: Optional[Tensor] = None) -> Optional[Tensor]:
    """Replace every ``grad`` by the global batch's mean: sum over ranks of grad * local / batch,
    in one all-reduce of one flat buffer. ``extra`` (e.g. per-layer losses, means over the
    local batch) is averaged the same way and returned."""
    grads = [p.grad for p in params if p.grad is not None]
    parts = [g.reshape(-1) for g in grads]
    if extra is not None:
        parts.append(extra.reshape(-1).to(grads[0].dtype if grads else extra.dtype))
    if not parts:
        return extra
    flat = torch.cat(parts).mul_(local / batch)
    dist.all_reduce(flat)
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset:offset + n].view_as(g))
        offset += n
    return None if extra is None else flat[offset:].to(extra.dtype).view_as(extra)


def sum_(t: Tensor) -> Tensor:
    """The sum of ``t`` over ranks (in place; ``t`` itself in a single process)."""
    if active():
        dist.all_reduce(t)
    return t


def barrier() -> None:
    if active():
        dist.barrier()


def shutdown() -> None:
    """Leave the process group; the barrier first keeps a process from closing its
    connections while another one still talks to it (gloo aborts the process then)."""
    if dist.is_available() and dist.is_initialized():
        try:
            dist.barrier()
        finally:
            dist.destroy_process_group()
