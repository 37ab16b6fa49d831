"""Compiled time loops of the CUBA LIF neuron and of its eligibility trace (numba), of the
integer (Loihi-style) neuron of :mod:`spikelocal.hardware.simulator`, and the rate
encoder's compare-and-convert pass.

The equations are those of :mod:`spikelocal.core.neurons`; these loops only fuse them. A step
done with separate tensor operations reads and writes the whole [B, N] state several times
(about 8 passes for the neuron, 5 for the trace), each pass paying the dispatch overhead of
one operation; here one pass over the chunk [K, B*N] does all of it, with the state in
cache. The arithmetic is the same float32 operations in the same order (a multiply, then an
add, each rounded; no fused multiply-add), so the results are bit-identical to the
tensor-operation loop, which stays as the reference and as the path for tensors these loops
do not take (not float32, not on the CPU, or needing autograd).

Every loop runs over a range of columns (neurons of the flattened [B*N] state), so a pass is
split across ``torch.get_num_threads()`` threads by columns (the loops release the GIL): each
column's arithmetic is the same whichever thread does it, so the results do not depend on
the thread count. Without this the loops stayed on one core while the convolutions around
them used all of them (on 2 cores they were about a seventh of a conv net's training time).
"""
from __future__ import annotations

import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import Tensor


@functools.cache
def compiled_loops() -> Optional[dict[str, Any]]:
    """The jitted loops, compiled (and cached on disk) at first use; None without numba."""
    try:
        import numba
    except ImportError:  # the tensor-operation loop is then used
        return None

    # x <- decay * x + drive, rounded after the multiply and after the add (no fused
    # multiply-add), as the tensor-operation loop does; inlined into the loops below
    @numba.njit(inline="always")
    def leak_add(state, i, decay, drive):  # pragma: no cover
        x = state[i] * decay
        x = x + drive
        state[i] = x
        return x

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def lif_steps(current, syn, mem, bias, alpha, beta, threshold, hard, spikes, membrane,
                  lo, hi):  # pragma: no cover
        steps = current.shape[0]
        nb = bias.shape[0]
        zero = np.float32(0.0)
        one = np.float32(1.0)
        for k in range(steps):
            for i in range(lo, hi):
                s = leak_add(syn, i, alpha, current[k, i])
                v = mem[i] * beta
                v = v + s
                if nb > 0:
                    v = v + bias[i % nb]
                membrane[k, i] = v
                if v > threshold:
                    spikes[k, i] = one
                    v = zero if hard else v - threshold
                else:
                    spikes[k, i] = zero
                mem[i] = v

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def trace_steps(pre, q, p, alpha, beta, out, lo, hi):  # pragma: no cover
        steps = pre.shape[0]
        for k in range(steps):
            for i in range(lo, hi):
                out[k, i] = leak_add(p, i, beta, leak_add(q, i, alpha, pre[k, i]))

    # error_model="numpy": IEEE division (no zero check raising an exception), which lets LLVM
    # vectorise the loop; the results are the same correctly rounded float32 divisions.
    @numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")
    def fast_sigmoid_inplace(v, threshold, slope, lo, hi):  # pragma: no cover
        one = np.float32(1.0)
        for i in range(lo, hi):
            d = abs(v[i] - threshold)
            d = d * slope
            d = d + one
            d = one / d
            v[i] = d * d

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def bernoulli_u16(draws, thresholds, out, lo, hi):  # pragma: no cover
        steps = draws.shape[0]
        one = np.float32(1.0)
        zero = np.float32(0.0)
        for k in range(steps):
            for i in range(lo, hi):
                out[k, i] = one if np.int32(draws[k, i]) < thresholds[i] else zero

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def integer_lif_steps(syn, delay, fu, fv, nbits, state_bits, thr, bias, n, out, overflow):  # pragma: no cover
        used, size = syn.shape
        steps = out.shape[0]
        nb = bias.shape[0]
        mask = (np.int64(1) << nbits) - 1
        modulus = np.int64(1) << state_bits
        half = modulus >> 1
        vmax = half - 1
        u = np.zeros(size, np.int64)
        v = np.zeros(size, np.int64)
        wrapped = 0
        saturated = 0
        for k in range(steps):
            j = k - delay
            arrives = 0 <= j < used
            for i in range(size):
                p = u[i] * fu
                p = (p + ((p >> 63) & mask)) >> nbits
                if arrives:
                    p += syn[j, i]
                if p > vmax or p < -vmax - 1:
                    wrapped += 1
                    p = p & (modulus - 1)         # two's complement wrap to state_bits
                    if p >= half:
                        p -= modulus
                u[i] = p
                q = v[i] * fv
                q = (q + ((q >> 63) & mask)) >> nbits
                q += p
                if nb > 0:
                    q += bias[i % n]
                if q > vmax:
                    saturated += 1
                    q = vmax
                elif q < -vmax:
                    saturated += 1
                    q = -vmax
                if q > thr:
                    out[k, i] = 1
                    q = 0
                else:
                    out[k, i] = 0
                v[i] = q
        overflow[0] = wrapped
        overflow[1] = saturated

    return {"lif_steps": lif_steps, "trace_steps": trace_steps,
            "fast_sigmoid_inplace": fast_sigmoid_inplace, "bernoulli_u16": bernoulli_u16,
            "integer_lif_steps": integer_lif_steps}


def usable(*tensors: Tensor) -> bool:
    """Whether the compiled loops can take these tensors (float32, CPU, no autograd)."""
    return all(t.dtype == torch.float32 and t.device.type == "cpu" and not t.requires_grad
               for t in tensors) and compiled_loops() is not None


#: below this many elements a pass stays on the calling thread: handing work to another
#: thread costs tens of microseconds, a pass over 2^17 floats about as much
PARALLEL_MIN = 1 << 17
#: column ranges start at multiples of this many elements (64 bytes of float32): two
#: threads never write the same cache line
_ALIGN = 16
_pool_lock = threading.Lock()
_pool: Optional[tuple[int, int, ThreadPoolExecutor]] = None  # (pid, workers, pool)


def column_ranges(size: int, steps: int = 1) -> list[tuple[int, int]]:
    """``range(size)`` in one contiguous, aligned part per torch thread (one part for small
    passes or one thread)."""
    threads = torch.get_num_threads()
    if threads <= 1 or size * steps < PARALLEL_MIN:
        return [(0, size)]
    parts = max(1, min(threads, size // (4 * _ALIGN)))
    bounds = [min(size, (size * j // parts) // _ALIGN * _ALIGN) for j in range(parts)] + [size]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def _workers(count: int) -> ThreadPoolExecutor:
    """The process's pool of helper threads, made again after a fork (a forked child, such
    as a data-loader worker, has none of its parent's threads) or for another thread count."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid() or _pool[1] != count:
            if _pool is not None and _pool[0] == os.getpid():
                _pool[2].shutdown(wait=False)  # its idle threads exit; a running pass finishes
            _pool = (os.getpid(), count, ThreadPoolExecutor(count, thread_name_prefix="spikelocal-loop"))
        return _pool[2]


def run_columns(loop: Callable[..., None], size: int, steps: int, *args: Any) -> None:
    """``loop(*args, lo, hi)`` over all columns, the parts on the calling thread and the pool."""
    ranges = column_ranges(size, steps)
    if len(ranges) == 1:
        loop(*args, 0, size)
        return
    pool = _workers(len(ranges) - 1)
    futures = [pool.submit(loop, *args, lo, hi) for lo, hi in ranges[1:]]
    loop(*args, *ranges[0])
    for future in futures:
        future.result()


def buffer(workspace: Optional[dict[str, Tensor]], name: str, like: Tensor) -> Tensor:
    """An uninitialised tensor shaped like ``like``: the workspace's ``name`` when it fits,
    else a new one (kept in the workspace). Reusing the buffers of the previous chunk avoids
    fresh allocations of tens of MB per chunk, whose page faults cost as much as a pass."""
    if workspace is None:
        return torch.empty_like(like)
    buf = workspace.get(name)
    if buf is None or buf.shape != like.shape or buf.dtype != like.dtype:
        buf = workspace[name] = torch.empty_like(like, memory_format=torch.contiguous_format)
    return buf


def lif_steps(current: Tensor, syn: Tensor, mem: Tensor, bias: Optional[Tensor], alpha: float,
              beta: float, threshold: float, hard_reset: bool,
              workspace: Optional[dict[str, Tensor]] = None) -> tuple[Tensor, Tensor]:
    """K steps of CUBA LIF on current [K, B, ...]; ``syn`` and ``mem`` (contiguous [B, ...],
    owned by the caller) are advanced in place. ``bias`` is per neuron of one sample, already
    broadcast to the sample's shape. Returns (spikes, membrane before reset), both [K, B, ...],
    written into the ``workspace`` buffers when one is given."""
    steps = current.shape[0]
    current = current.contiguous()
    spikes = buffer(workspace, "spikes", current)
    membrane = buffer(workspace, "membrane", current)
    b = (np.empty(0, dtype=np.float32) if bias is None
         else bias.detach().contiguous().view(-1).numpy())
    run_columns(compiled_loops()["lif_steps"], syn.numel(), steps, current.view(steps, -1).numpy(),
                syn.view(-1).numpy(), mem.view(-1).numpy(), b, np.float32(alpha), np.float32(beta),
                np.float32(threshold), hard_reset, spikes.view(steps, -1).numpy(), membrane.view(steps, -1).numpy())
    return spikes, membrane


def trace_steps(pre: Tensor, q: Tensor, p: Tensor, alpha: float, beta: float,
                workspace: Optional[dict[str, Tensor]] = None) -> Tensor:
    """The eligibility trace P for K steps of input [K, B, ...]; ``q``, ``p`` advanced in place."""
    steps = pre.shape[0]
    pre = pre.contiguous()
    out = buffer(workspace, "trace", pre)
    run_columns(compiled_loops()["trace_steps"], q.numel(), steps, pre.view(steps, -1).numpy(),
                q.view(-1).numpy(), p.view(-1).numpy(), np.float32(alpha), np.float32(beta),
                out.view(steps, -1).numpy())
    return out


def bernoulli_u16(draws: np.ndarray, thresholds: np.ndarray) -> Tensor:
    """Spikes (float32 0/1) where a uniform 16-bit draw [K, N] is below its int32 threshold
    [N] (in 0..65536), in one pass: numpy's compare and torch's bool-to-float conversion
    took three passes and most of the rate encoder's time."""
    out = np.empty(draws.shape, dtype=np.float32)
    compiled = compiled_loops()
    if compiled is None:
        np.less(draws, thresholds, out=out, casting="unsafe")
    else:
        run_columns(compiled["bernoulli_u16"], draws.shape[1], draws.shape[0], draws, thresholds, out)
    return torch.from_numpy(out)


def fast_sigmoid_(membrane: Tensor, threshold: float, slope: float) -> Tensor:
    """Overwrite a contiguous ``membrane`` with 1 / (slope |V - threshold| + 1)^2, in one pass."""
    run_columns(compiled_loops()["fast_sigmoid_inplace"], membrane.numel(), 1, membrane.view(-1).numpy(),
                np.float32(threshold), np.float32(slope))
    return membrane
