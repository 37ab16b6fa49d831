"""Running a sweep's points on a Dask cluster (``spikelocal sweep --scheduler ADDRESS``).

``distributed`` is imported only when a cluster is used: a local sweep does not need it.
"""
from __future__ import annotations

from typing import Any, Callable

from ..errors import SpikelocalError
import asyncio

Task = dict[str, Any]
Result = dict[str, Any]


def connect(address: str, timeout: float = 5.0):
    """A Dask client for ``address``; a one-line error within ``timeout`` s if unreachable."""
    try:
        from distributed import Client
    except ImportError:
        raise SpikelocalError("--scheduler needs dask.distributed: pip install 'dask[distributed]'") from None
    check_scheduler(address, timeout)
    try:
        client = Client(address, timeout=f"{timeout}s", set_as_default=False)
    except Exception as exc:  # OSError/TimeoutError when unreachable, ValueError for a bad address
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SpikelocalError(f"--scheduler {address}: cannot reach a Dask scheduler within {timeout:g} s "
                              f"({reason})") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except Exception:
        client.close()
        raise SpikelocalError(f"--scheduler {address}: the scheduler has no workers "
                              f"(none joined within {timeout:g} s)") from None
    return client


def _probe(address: str, timeout: float) -> None:
    """Ask the scheduler who it is over Dask's own protocol, so that an unreachable address or
    something that is not a Dask scheduler fails here, before a Client exists (a Client that
    never connected hangs for 10 s when the interpreter exits)."""
    from distributed.core import rpc

    async def identity() -> dict:
        async with rpc(address, timeout=timeout) as scheduler:
            return await scheduler.identity()

    try:
        info = asyncio.run(asyncio.wait_for(identity(), timeout))
    except asyncio.TimeoutError:
        raise TimeoutError("no answer") from None
    if not isinstance(info, dict) or info.get("type") != "Scheduler":
        raise ValueError(f"the server there is not a Dask scheduler (it says {str(info)[:60]!r})")


def check_scheduler(address: str, timeout: float = 5.0) -> None:
    """A one-line SpikelocalError unless a Dask scheduler answers at ``address`` within ``timeout`` s."""
    try:
        _probe(address, timeout)
    except ImportError:
        raise SpikelocalError("--scheduler needs dask.distributed: pip install 'dask[distributed]'") from None
    except Exception as exc:  # OSError when refused, TimeoutError, ValueError for a bad address
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if not isinstance(exc, (OSError, TimeoutError, ValueError)):  # garbage back: another server
            reason = "the server there does not speak Dask's protocol"
        raise SpikelocalError(f"--scheduler {address}: cannot reach a Dask scheduler within {timeout:g} s "
                              f"({reason})") from None


def _host_threads(client) -> dict[str, int]:
    from distributed.comm import get_address_host

    totals: dict[str, int] = {}
    for address, info in client.scheduler_info(n_workers=-1)["workers"].items():
        host = get_address_host(address)
        totals[host] = totals.get(host, 0) + int(info.get("nthreads", 1))
    return totals


def run_on_cluster(ready: list[Task], waiting: dict[str, list[Task]], client, digest: str,
                   on_result: Callable[[Result], None], run_point: Callable[..., Result]) -> None:
    """Submit every point; a point sharing another's training (``waiting``, by source name)
    gets that point's future as an argument, so Dask runs it afterwards (with a higher
    priority: it is short)."""
    from distributed import as_completed as dask_completed

    hosts = _host_threads(client)
    futures, names = [], {}

    def submit(task: Task, after: Any = None, priority: int = 0) -> Any:
        future = client.submit(run_point, task, None, hosts, after, key=f"spikelocal-{digest[:10]}-{task['name']}",
                               pure=False, priority=priority)
        futures.append(future)
        names[future.key] = task["name"]
        return future

    for task in ready:
        source = submit(task)
        for dependent in waiting.get(task["name"], []):
            submit(dependent, source, priority=1)
    try:
        for future in dask_completed(futures):
            try:
                result = future.result()
            except Exception as exc:  # the worker died or the task could not run there
                result = {"name": names[future.key], "state": "failed", "seconds": 0.0,
                          "error": f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"}
            on_result(result)
    except BaseException:
        client.cancel(futures)
        raise
