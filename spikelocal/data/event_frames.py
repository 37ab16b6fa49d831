"""Binned event recordings, kept sparse, and their delivery as spike chunks [K, B, *frame].

A sample of an event dataset is T frames of event counts, ``[T, *frame_shape]`` (frame
``[C, H, W]`` for a camera, ``[channels]`` for SHD). Almost all bins are empty: N-MNIST at
1 ms bins is 300 x 2 x 34 x 34 = 693,600 bins a sample with about 4,000 events, so 60,000
dense samples would take 42 GB. :class:`EventFrames` stores, for all samples back to back,
the flat position ``t * F + f`` of every non-empty bin (sorted within a sample) and its count
(uint8, clipped at 255), with ``offsets[i]:offsets[i+1]`` the entries of sample i (CSR).

It behaves like the uint8 image tensor of the static datasets where the trainer needs it:
``len(x)``, ``x[index_tensor]``, ``x[a:b]`` and ``x.shape[1:]`` (the input shape of ONE
time step; T is :attr:`steps`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import numpy as np
import torch
from torch import Tensor


def index_dtype(steps: int, frame_shape: tuple[int, ...]) -> np.dtype:
    """int32 positions where a sample's T x F bins fit, else int64."""
    return np.dtype(np.int32 if steps * math.prod(frame_shape) < 2**31 else np.int64)


@dataclass
class EventFrames:
    offsets: np.ndarray            # int64 [N + 1]
    index: np.ndarray              # int32/int64 [E]: t * F + f within the sample
    count: np.ndarray              # uint8 [E]: events in that bin (clipped at 255)
    steps: int                     # T
    frame_shape: tuple[int, ...]   # one time step: (C, H, W) or (channels,)

    @classmethod
    def from_dense(cls, frames: Iterable[np.ndarray], frame_shape: tuple[int, ...], steps: int) -> "EventFrames":
        """Pack dense per-sample counts [T, *frame_shape] (any integer dtype), one at a time,
        so that only one dense sample is ever in memory."""
        dtype = index_dtype(steps, frame_shape)
        idx_parts, cnt_parts, offsets = [], [], [0]
        for f in frames:
            flat = f.reshape(-1)
            nz = np.flatnonzero(flat)
            idx_parts.append(nz.astype(dtype, copy=False))
            cnt_parts.append(np.minimum(flat[nz], 255).astype(np.uint8))
            offsets.append(offsets[-1] + len(nz))
        index = np.concatenate(idx_parts) if idx_parts else np.zeros(0, dtype)
        count = np.concatenate(cnt_parts) if cnt_parts else np.zeros(0, np.uint8)
        return cls(np.asarray(offsets, dtype=np.int64), index, count, steps, tuple(frame_shape))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def shape(self) -> tuple[int, ...]:
        """(N, *frame_shape): like an image tensor, so ``shape[1:]`` is the input shape."""
        return (len(self), *self.frame_shape)

    @property
    def frame_size(self) -> int:
        return math.prod(self.frame_shape)

    def __getitem__(self, key: Any) -> "EventFrames":
        """The samples picked by a slice, an index array/tensor/list or an int."""
        if isinstance(key, slice) and key.step in (None, 1):
            start, stop, _ = key.indices(len(self))
            stop = max(start, stop)
            lo, hi = self.offsets[start], self.offsets[stop]
            return EventFrames(self.offsets[start:stop + 1] - lo, self.index[lo:hi], self.count[lo:hi],
                               self.steps, self.frame_shape)
        if isinstance(key, slice):
            idx = np.arange(len(self))[key]
        elif isinstance(key, Tensor):
            idx = key.detach().cpu().numpy().reshape(-1)
        else:
            idx = np.asarray(key).reshape(-1)
        idx = idx.astype(np.int64)
        starts = self.offsets[idx]
        lengths = self.offsets[idx + 1] - starts
        offsets = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        gather = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
        return EventFrames(offsets, self.index[gather], self.count[gather], self.steps, self.frame_shape)

    def dense(self) -> Tensor:
        """All samples as counts [N, T, *frame_shape] (uint8); for inspection and small sets."""
        out = torch.zeros(len(self) * self.steps * self.frame_size, dtype=torch.uint8)
        sample = np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.offsets))
        pos = sample * (self.steps * self.frame_size) + self.index
        out[torch.from_numpy(pos)] = torch.from_numpy(self.count)
        return out.view(len(self), self.steps, *self.frame_shape)

    def chunks(self, chunk: int, binary: bool = True) -> Iterator[Tensor]:
        """The batch's spike input, K = ``chunk`` steps at a time: float32 [K, B, *frame].

        ``binary``: a bin with any event is one spike (1.0); otherwise the event count.
        """
        b, f, steps = len(self), self.frame_size, self.steps
        sample = np.repeat(np.arange(b, dtype=np.int64), np.diff(self.offsets))
        t = self.index // f
        order = np.argsort(t, kind="stable")
        t, sample = t[order], sample[order]
        pos = (self.index[order] % f).astype(np.int64)
        values = (torch.ones(len(order)) if binary
                  else torch.from_numpy(self.count[order].astype(np.float32)))
        starts = list(range(0, steps, chunk))
        bounds = np.searchsorted(t, starts + [steps])
        for j, start in enumerate(starts):
            k = min(chunk, steps - start)
            lo, hi = bounds[j], bounds[j + 1]
            lin = ((t[lo:hi] - start) * b + sample[lo:hi]) * f + pos[lo:hi]
            out = torch.zeros(k * b * f)
            out[torch.from_numpy(lin)] = values[lo:hi]
            yield out.view(k, b, *self.frame_shape)
