"""Loss windows over time, independent of the chunk length (a memory setting).

A rule that scores activity averaged over a window of W steps (``rule.window``: ``step`` is
W = 1, ``sample`` the whole sample, or a number of steps) needs each window's mean activity
before it can form the modulator of the window's steps. The chunk length K
(``training.time_chunk``) only says how many steps share one batched product. The driver
below makes the two independent, so the same seed gives the same weights for any K:

- W <= K: the input is re-cut into pieces of whole windows (K // W of them), one pass; the
  window means come from the piece's own records.
- W > K: each window is simulated twice from the same starting state: a forward-only pass
  in chunks of K collects the window's mean activity (memory of one chunk), then the
  updating pass replays the window chunk by chunk with the means known. The window's input
  is held meanwhile (W x B x input size), and the forward work is done twice: the price of a
  window longer than the chunk.

The callback receives, per piece: the records, and per layer the mean pooled activity of
each window group ``[G, B, *pooled_shape]`` (G windows of ``group_len`` steps in a piece of
G * group_len steps), plus the per-sample activity counts (for metrics).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Literal, Optional, Union

import torch
from torch import Tensor

from .simulate import LayerRecord, Simulator, SimState

Window = Union[Literal["sample", "step"], int]


@dataclass
class PieceWindows:
    """Window statistics of one piece (see the module docstring)."""

    means: list[Tensor]     # per layer [G, B, *pooled_shape]
    group_len: int          # steps per window group (a window longer than the piece: its length)
    counts: list[Tensor]    # per layer [B]: summed pooled activity over the piece
    opens: bool = True      # the piece starts its windows (False for the later pieces of a
                            # window longer than the chunk: score each window once)
    start: int = 0          # the sample's step at which the first window group starts


OnPiece = Callable[[list[LayerRecord], PieceWindows, SimState], None]


def window_steps(window: Window) -> Optional[int]:
    """W in steps; None for the whole sample."""
    if window == "step":
        return 1
    if window == "sample":
        return None
    return int(window)


def _cut(chunks: Iterable[Tensor], length: Optional[int]) -> Iterator[Tensor]:
    """Re-cut a stream of chunks into consecutive pieces of ``length`` steps (None: all of
    it); the last piece may be shorter. Pieces that lie inside one chunk are views."""
    buffer: list[Tensor] = []
    held = 0
    for x in chunks:
        buffer.append(x)
        held += x.shape[0]
        while length is not None and held >= length:
            whole = buffer[0] if len(buffer) == 1 else torch.cat(buffer)
            yield whole[:length]
            rest = whole[length:]
            buffer, held = ([rest], rest.shape[0]) if rest.shape[0] else ([], 0)
    if held:
        yield buffer[0] if len(buffer) == 1 else torch.cat(buffer)


def _group_means(pooled: Tensor, group_len: int) -> tuple[Tensor, Tensor]:
    """Means over window groups [G, B, ...] and the per-sample total over the piece [B]."""
    k, b = pooled.shape[:2]
    if group_len == 1:  # per-step window: the activity itself
        return pooled, pooled.reshape(k, b, -1).sum(dim=(0, 2))
    if group_len == k:
        total = pooled.sum(0)
        counts = total.reshape(b, -1).sum(1)
        return total.div_(k).unsqueeze(0), counts
    groups = pooled.reshape(k // group_len, group_len, *pooled.shape[1:]).sum(1).div_(group_len)
    return groups, pooled.reshape(k, b, -1).sum(dim=(0, 2))


def _piece_windows(records: list[LayerRecord], group_len: int, start: int) -> PieceWindows:
    stats = [_group_means(rec.pooled.detach(), group_len) for rec in records]
    return PieceWindows([m for m, _ in stats], group_len, [c for _, c in stats], start=start)


def run_windows(sim: Simulator, chunks: Iterable[Tensor], window: Window, on_piece: OnPiece,
                chunk: Optional[int] = None) -> Optional[SimState]:
    """Drive ``sim`` over one batch so that ``on_piece`` always knows its windows' means.

    ``chunk`` (K) defaults to the length of the first chunk the input arrives in: the
    encoder's chunking (``training.time_chunk``) is the memory setting.
    """
    chunks = iter(chunks)
    first = next(chunks, None)
    if first is None:
        return None
    chunk = chunk or first.shape[0]
    chunks = itertools.chain([first], chunks)
    w = window_steps(window)
    state: Optional[SimState] = None
    if w is not None and w <= chunk:
        length = (chunk // w) * w
        for piece in _cut(chunks, length):
            state = state or sim.start(piece.shape[1], piece.device)
            for part in _whole_windows(piece, w):
                group = min(w, part.shape[0])
                start = state.steps
                records = sim.run(part, state)
                on_piece(records, _piece_windows(records, group, start), state)
        return state
    for window_input in _cut(chunks, w):
        state = state or sim.start(window_input.shape[1], window_input.device)
        steps = window_input.shape[0]
        start = state.steps
        if steps <= chunk:
            records = sim.run(window_input, state)
            on_piece(records, _piece_windows(records, steps, start), state)
            continue
        means = _forward_means(sim, window_input, state, chunk)
        for j, part in enumerate(torch.split(window_input, chunk)):
            records = sim.run(part, state)
            counts = [rec.pooled.detach().reshape(part.shape[0], part.shape[1], -1).sum(dim=(0, 2))
                      for rec in records]
            on_piece(records, PieceWindows(means, steps, counts, opens=j == 0, start=start), state)
    return state


def _whole_windows(piece: Tensor, w: int) -> list[Tensor]:
    """A piece whose length is not a multiple of W (the end of a sample) splits in two."""
    whole = (piece.shape[0] // w) * w
    if whole in (0, piece.shape[0]):
        return [piece]
    return [piece[:whole], piece[whole:]]


@torch.no_grad()
def _forward_means(sim: Simulator, window_input: Tensor, state: SimState, chunk: int) -> list[Tensor]:
    """Mean pooled activity of every layer over the window, leaving ``state`` untouched."""
    saved = state.snapshot()
    forward = sim.forward_only()
    sums: list[Tensor] = []
    for part in torch.split(window_input, chunk):
        for i, rec in enumerate(forward.run(part, state)):
            total = rec.pooled.sum(0)
            if len(sums) <= i:
                sums.append(total.clone())
            else:
                sums[i] += total
    state.neurons, state.steps = saved.neurons, saved.steps
    return [s.div_(window_input.shape[0]).unsqueeze(0) for s in sums]
