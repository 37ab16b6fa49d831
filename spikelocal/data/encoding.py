"""Batches to spike chunks as a run sees them: ``encode`` applies the experiment's encoder
(or bins recorded events) and ``batch_generator`` seeds one batch's encoding from its place
(seed, epoch, batch), so evaluation, recording, export and conversion all see the same spikes."""
from __future__ import annotations

from typing import Iterator, Optional

import torch
from torch import Tensor

from .. import seeds
from ..config import ExperimentConfig
from .encoders import ENCODERS
from .event_frames import EventFrames


def to_unit(x: Tensor) -> Tensor:
    """uint8 pixels -> float32 in [0, 1]."""
    return x.to(torch.float32).div_(255.0)


def batch_generator(seed: int, epoch: int, batch: int) -> torch.Generator:
    """The generator for the encoding of one batch: a pure function of its position."""
    return torch.Generator().manual_seed(seeds.batch_seed(seed, epoch, batch))


def encode(config: ExperimentConfig, x_uint8: Tensor | EventFrames, gen: torch.Generator,
           device: Optional[torch.device] = None) -> Iterator[Tensor]:
    """Chunks of the encoded batch, on the device of ``x_uint8`` (images are encoded where
    they are); recorded event frames are binned on the host and sent to ``device``."""
    data = config.data
    if isinstance(x_uint8, EventFrames):  # recorded spike trains: already binned into data.steps frames
        chunks = x_uint8.chunks(config.training.time_chunk, data.events.binarize)
        if device is None or device.type == "cpu":
            return chunks
        return (c.to(device, non_blocking=True) for c in chunks)
    return ENCODERS.get(data.encoding)(to_unit(x_uint8), data.steps,
                                       config.training.time_chunk, data.gain, gen)
