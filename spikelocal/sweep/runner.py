"""Running a sweep's points: on a local process pool (default) or on a Dask cluster.

Every point is an ordinary run directory ``SWEEP_DIR/points/<name>``. Before anything runs,
the sweep directory is checked against the sweep file's hash (``sweep.json``), so a directory
of another sweep is never mixed in. Then each point is

- skipped when its ``status.json`` says finished (or failed, unless ``retry_failed``);
- resumed from its last checkpoint (``trainer.run(..., resume=True)``) when it was interrupted;
- started fresh otherwise.

A point that raises (NaN loss, divergence, a bug) is recorded with its error in its own
``status.json`` and the sweep goes on.

Shared training: points whose configs differ only in what is applied after training (the
``noise`` section, and ``prune`` in mode ``after``) train the very same network. Only one of
them (the *source*) trains; each of the others waits for it, gets a copy of its run
directory (checkpoint, metrics, log) under its own ``config.yaml``, and is resumed from that
final checkpoint, which runs only its own end-of-run evaluations (see
:func:`training_key`). Every point is still a complete run directory; ``shared_training.json``
names the source. A grid of 5 rules x 3 fractions x 3 sparsities x 3 noise levels trains 15
networks per seed instead of 135. Threads: with N workers on C cores each point runs
with ``max(1, C // N)`` torch threads (and OMP/MKL variables in pool workers), so N points at
once do not oversubscribe the cores. On Linux the pool forks its workers from a parent that
has imported torch and the trainer, so they start at once (see :func:`_start_method`), and
each worker asks the kernel to kill it when the sweep process dies (``PR_SET_PDEATHSIG``), so
a killed sweep leaves no orphan still writing into a point that the restarted sweep resumes.
"""
from __future__ import annotations

import collections
import json
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Optional

from ..errors import RunDirError, SpikelocalError
from .cluster import check_scheduler, connect, run_on_cluster  # noqa: F401  (the sweep command imports them here)
from .spec import Point, SweepSpec
from ..checkpoint import atomic_write_text
from .. import rundir
from ..config import load_experiment
from ..trainer import run
import importlib
from .. import trainer

log = logging.getLogger(__name__)

SWEEP_JSON = "sweep.json"
POINTS = "points"
SHARED_TRAINING = "shared_training.json"
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

Result = dict[str, Any]


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def threads_per_point(workers: int, cores: Optional[int] = None) -> int:
    return max(1, (cores or cpu_cores()) // max(1, workers))


# ---------------------------------------------------------------- sweep directory -----
def prepare_sweep_dir(spec: SweepSpec, out: Path, create: bool = True) -> None:
    """Check that ``out`` is new or holds this very sweep; write ``sweep.json``."""
    marker = out / SWEEP_JSON
    if marker.exists():
        try:
            stored = json.loads(marker.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise RunDirError(f"{marker}: unreadable ({exc})") from None
        if stored.get("sha256") != spec.digest:
            raise RunDirError(f"{out}: holds a sweep of a different sweep file ({stored.get('sweep_file')}); "
                              "choose another --out, or restore the sweep file it was started with")
        return
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunDirError(f"{out}: exists and is not a sweep directory (no {SWEEP_JSON}); choose another --out")
    if not create:
        return

    try:
        (out / POINTS).mkdir(parents=True, exist_ok=True)
        record = {"sweep_file": str(spec.path), "sha256": spec.digest, "axes": spec.axes,
                  "grid": spec.grid, "points": [p.name for p in spec.points]}
        atomic_write_text(marker, json.dumps(record, indent=2, default=str) + "\n")
    except OSError as exc:
        raise RunDirError(f"{out}: cannot write the sweep directory ({exc.strerror})") from None


def point_dir(out: Path, point: Point) -> Path:
    return out / POINTS / point.name


def stored_state(run_dir: Path) -> tuple[Optional[str], Optional[str]]:
    """(state, error) from a point's status.json; (None, None) when it has none."""
    try:
        status = json.loads((run_dir / "status.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None, None
    return status.get("state"), status.get("error")


# ---------------------------------------------------------------- one point -----------
def _set_threads(threads: int) -> None:
    for var in _THREAD_VARS:
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(threads)


def _die_with_parent(parent: int) -> None:
    """Linux: have the kernel SIGKILL this worker when the sweep process ends (even by SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError) as exc:
        log.warning("cannot tie the sweep worker to its parent (%s)", exc)
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _init_pool_worker(threads: int, parent: int) -> None:
    _die_with_parent(parent)
    _set_threads(threads)


# ---------------------------------------------------------------- shared training -----
def training_key(config) -> str:
    """What decides a point's training: its config without the sections applied only after
    training (``noise``; ``prune`` unless it is ``retrain`` with a sparsity). Points with the
    same key train identical networks (same seed, same data order)."""
    data = config.to_dict()
    data.pop("noise", None)
    if config.prune.mode == "after" or not config.prune.sparsity:
        data.pop("prune", None)
    return json.dumps(data, sort_keys=True, default=str)


def _copy_training(source: Path, out: Path, config, source_name: str) -> None:
    """Make ``out`` a run directory holding ``source``'s finished training under ``config``."""
    state, error = stored_state(source)
    if state != "finished" or not (source / rundir.CHECKPOINT).is_file():
        raise SpikelocalError(f"its training is shared with point {source_name}, which is "
                              f"{state or 'not run'}{': ' + error if error else ''}")
    epoch = json.loads((source / rundir.STATUS).read_text()).get("epoch", 0)
    tmp = out.with_name(f".{out.name}.copy")
    shutil.rmtree(tmp, ignore_errors=True)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(source, tmp, ignore=shutil.ignore_patterns(
        rundir.CONFIG, rundir.STATUS, rundir.SUMMARY, SHARED_TRAINING))
    atomic_write_text(tmp / rundir.CONFIG, config.to_yaml())
    atomic_write_text(tmp / SHARED_TRAINING, json.dumps({"source": source_name, "source_dir": str(source)},
                                                        indent=2) + "\n")
    rundir.write_status(tmp, "running", epoch)
    rundir.append_log(tmp, f"training copied from point {source_name} ({source}); evaluating this point's conditions")
    tmp.rename(out)


def run_point(task: dict[str, Any], threads: Optional[int] = None,
              host_threads: Optional[dict[str, int]] = None, after: Any = None) -> Result:
    """Train one point into its run directory (in a worker); never raises for a failed run.

    ``threads``: torch threads to use; on Dask, ``host_threads`` (host -> threads of all
    workers on it) gives ``cores // threads on this host`` instead. ``task["source"]``
    (``{"name", "out"}``): copy that finished point's training instead of training. ``after``
    is unused: on Dask it is the source's future, so that this point runs after it.
    """
    t0 = time.perf_counter()
    if threads is None and host_threads:
        from distributed import get_worker
        from distributed.comm import get_address_host

        threads = max(1, cpu_cores() // max(1, host_threads.get(get_address_host(get_worker().address), 1)))
    if threads is not None:
        _set_threads(threads)

    out = Path(task["out"])
    result: Result = {"name": task["name"], "state": "failed", "error": None}
    try:
        config = load_experiment(task["experiment"], list(task["overrides"]))
        source = task.get("source")
        if source:
            _copy_training(Path(source["out"]), out, config, source["name"])
            resume = False
        else:
            resume = (out / rundir.CONFIG).exists() and (out / rundir.STATUS).exists()
            if out.exists() and not resume:
                shutil.rmtree(out)  # a start that was killed before its run directory was complete
        summary = run(config, out, resume=bool(source) or resume, progress=False)
        result.update(state="finished", test_accuracy=summary["test_accuracy"], resumed=resume)
        if source:
            result["trained_by"] = source["name"]
    except Exception as exc:  # any failure is this point's result; the sweep goes on
        message = (str(exc).strip().splitlines() or [""])[0]
        result["error"] = f"{type(exc).__name__}: {message}"
        try:
            epoch = 0
            if stored_state(out)[0] is not None:
                epoch = json.loads((out / rundir.STATUS).read_text()).get("epoch", 0)
            out.mkdir(parents=True, exist_ok=True)
            rundir.write_status(out, "failed", epoch, error=result["error"])
        except OSError as write_exc:
            log.warning("%s: cannot record the failure (%s)", out, write_exc)
    result["seconds"] = time.perf_counter() - t0
    return result


def _task(out: Path, point: Point, source: Optional[Point] = None) -> dict[str, Any]:
    # absolute paths: a Dask worker may run in another directory (a shared file system is assumed)
    task: dict[str, Any] = {"name": point.name, "experiment": str(point.base.resolve()),
                            "overrides": list(point.overrides), "out": str(point_dir(out, point).resolve())}
    if source is not None:
        task["source"] = {"name": source.name, "out": str(point_dir(out, source).resolve())}
    return task


# ---------------------------------------------------------------- executors -----------
def _start_method() -> str:
    """``fork`` on Linux, as torch's DataLoader does for its workers: a forked worker has torch
    and spikelocal imported already and starts in milliseconds, where a spawned one spends a
    second or more importing torch (which would be 5-10% of a sweep of 100 one-second points).
    Elsewhere (macOS, Windows) fork is unsafe or missing: ``spawn``."""
    return "fork" if sys.platform.startswith("linux") else "spawn"


def _split_waiting(tasks: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Tasks that can start now, and source name -> tasks that wait for that source to run."""
    names = {t["name"] for t in tasks}
    ready: list[dict[str, Any]] = []
    waiting: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        source = task.get("source")
        if source and source["name"] in names:
            waiting.setdefault(source["name"], []).append(task)
        else:
            ready.append(task)
    return ready, waiting


def _run_local(tasks: list[dict[str, Any]], workers: int, on_result: Callable[[Result], None]) -> None:
    """A process pool fed from a queue in which points waiting for a shared training go first
    once it is done (their evaluations are short and finish the point); one task more than
    there are workers is kept submitted so that no worker waits for the next one."""
    threads = threads_per_point(workers)
    method = _start_method()
    if method == "fork":  # import once here, so that every forked worker has it

        for module in trainer.HOOK_MODULES:
            importlib.import_module(module)
    ctx = multiprocessing.get_context(method)
    ready, waiting = _split_waiting(tasks)
    queue = collections.deque(ready)
    pool = ProcessPoolExecutor(min(workers, len(tasks)), mp_context=ctx,
                               initializer=_init_pool_worker, initargs=(threads, os.getpid()))
    futures: dict[Any, dict[str, Any]] = {}
    try:
        while queue or futures:
            while queue and len(futures) <= workers:
                task = queue.popleft()
                futures[pool.submit(run_point, task)] = task
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in done:
                task = futures.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # the worker process died (killed, out of memory)
                    result = {"name": task["name"], "state": "failed", "seconds": 0.0,
                              "error": f"{type(exc).__name__}: worker process ended ({exc})"}
                on_result(result)
                queue.extendleft(reversed(waiting.pop(task["name"], [])))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


# ---------------------------------------------------------------- the sweep -----------
def _sources(spec: SweepSpec, out: Path) -> dict[str, Point]:
    """Point name -> the point whose training it copies (see :func:`training_key`): a finished
    point of its group with a checkpoint when there is one, else the group's first point."""
    groups: dict[str, list[Point]] = {}
    for point in spec.points:
        groups.setdefault(training_key(point.config), []).append(point)
    sources: dict[str, Point] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        done = [m for m in members if stored_state(point_dir(out, m))[0] == "finished"
                and (point_dir(out, m) / rundir.CHECKPOINT).is_file()]
        source = done[0] if done else members[0]
        sources.update({m.name: source for m in members if m is not source})
    return sources


def run_sweep(spec: SweepSpec, out: Path, workers: int = 1, client=None, retry_failed: bool = False,
              on_result: Optional[Callable[[Result], None]] = None, share_training: bool = True) -> list[Result]:
    """Run every point of ``spec`` not yet done into ``out``; return one result per point.

    ``client``: a connected ``distributed.Client`` (see :func:`connect`); None runs on a local
    pool of ``workers`` processes. ``share_training``: points that differ only in test-time
    conditions copy one training (see the module docstring); False trains every point.
    """
    if workers < 1:
        raise SpikelocalError(f"--workers {workers}: need at least 1")
    prepare_sweep_dir(spec, out)
    sources = _sources(spec, out) if share_training else {}
    results: dict[str, Result] = {}
    tasks = []
    for point in spec.points:
        state, error = stored_state(point_dir(out, point))
        if state == "finished" or (state == "failed" and not retry_failed):
            results[point.name] = {"name": point.name, "state": state, "error": error, "skipped": True,
                                   "seconds": 0.0}
        else:
            tasks.append(_task(out, point, sources.get(point.name)))

    def record(result: Result) -> None:
        results[result["name"]] = result
        if on_result is not None:
            on_result(result)

    for result in list(results.values()):
        if on_result is not None:
            on_result(result)
    if tasks:
        if client is not None:
            run_on_cluster(*_split_waiting(tasks), client, spec.digest, record, run_point)
        else:
            _run_local(tasks, workers, record)
    return [results[p.name] for p in spec.points]
