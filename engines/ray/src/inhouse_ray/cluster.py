"""Connecting this process to Ray: a local Ray started for the ingestion (loopback only, no
dashboard, no usage reporting, quiet), the Ray this process already joined, or the cluster at
an address (``ray://head:10001`` through Ray Client, ``auto``, ``host:6379``)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys

import ray

from inhouse.errors import InhouseError

LOOPBACK = "127.0.0.1"
#: Driver-side options for every connection: Ray's own log lines stay in its log files.
QUIET = {"logging_level": logging.WARNING, "log_to_driver": False}


def connect(address: str | None, num_cpus: int | None) -> bool:
    """Join Ray: the cluster at ``address``, else a new local Ray of ``num_cpus`` CPUs (default:
    this machine's). A process already connected keeps its connection. Returns whether this call
    connected (the caller then disconnects with :func:`disconnect`)."""
    if ray.is_initialized():
        return False
    try:
        # ray.init prints its banner and notices on stdout, where `inhouse ingest --json` writes.
        with contextlib.redirect_stdout(sys.stderr):
            if address is None:
                _start_local(num_cpus or os.cpu_count() or 1)
            else:
                ray.init(address=address, **QUIET)
    except Exception as exc:
        where = f"join the Ray cluster at {address}" if address else "start a local Ray"
        hint = (
            "check the address (ray://HEAD:10001 for Ray Client, HOST:6379 or auto on a cluster node) and that the "
            "cluster runs ray 2.60.0"
            if address
            else "see `ray status` and the logs under /tmp/ray/session_latest/logs"
        )
        raise InhouseError(f"could not {where}: {type(exc).__name__}: {exc}; {hint}") from exc
    return True


def _start_local(num_cpus: int) -> None:
    """A Ray on this machine alone: bound to loopback, without the dashboard and without
    reporting usage statistics (unless ``RAY_USAGE_STATS_ENABLED`` says otherwise)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # read by the processes ray.init starts
    ray.init(
        address="local",
        num_cpus=num_cpus,
        include_dashboard=False,
        _node_ip_address=LOOPBACK,  # ray.init's documented option for `ray start --node-ip-address`
        **QUIET,
    )


def disconnect() -> None:
    """Leave Ray; a local Ray this process started stops with it."""
    ray.shutdown()


def cluster_cpus() -> float:
    """The CPUs of the cluster this process is connected to (its nodes now)."""
    return float(ray.cluster_resources().get("CPU", 0.0))


def cluster_gpus() -> float:
    """The GPUs of the cluster this process is connected to (its nodes now)."""
    return float(ray.cluster_resources().get("GPU", 0.0))
