"""Parsing and chunking as Ray tasks, streamed: a thread takes the ingester's jobs (taking one
reads a file) and submits each as a task while at most ``in_flight`` results wait to be taken;
results come back in job order, so a folder of any size streams through a bounded window."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import ray

from inhouse_ray.errors import unwrap

J = TypeVar("J")
R = TypeVar("R")
_END = object()


@ray.remote
def _apply(work: Callable[[Any], Any], job: Any) -> Any:
    """``work(job)`` in a Ray worker (``work`` never raises for a bad file: its result says)."""
    return work(job)


def ordered_map(work: Callable[[J], R], jobs: Iterable[J], *, in_flight: int, num_cpus: float) -> Iterator[R]:
    """``work(job)`` for each of ``jobs`` as Ray tasks of ``num_cpus`` CPUs each, spread over
    the cluster, yielded in job order, with at most ``in_flight`` submitted and not yet taken."""
    work_ref = ray.put(work)  # shipped once, not with every task
    task = _apply.options(num_cpus=num_cpus, scheduling_strategy="SPREAD")
    waiting: queue.Queue[Any] = queue.Queue(maxsize=in_flight)
    stop = threading.Event()

    def submit() -> None:
        try:
            for job in jobs:
                if not _put(waiting, task.remote(work_ref, job), stop):
                    return
        except BaseException as exc:  # a connector that fails while listing: raised to the consumer
            _put(waiting, exc, stop)
            return
        _put(waiting, _END, stop)

    threading.Thread(target=submit, daemon=True, name="inhouse-ray-submit").start()
    try:
        while (item := waiting.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            with unwrap("a parsing task"):
                result = ray.get(item)
            yield result
    finally:
        stop.set()  # the consumer stopped early (an error): the thread submits nothing more


def _put(waiting: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    """Put ``item`` once there is room; False when the consumer stopped first."""
    while not stop.is_set():
        try:
            waiting.put(item, timeout=0.2)
            return True
        except queue.Full:
            continue
    return False
