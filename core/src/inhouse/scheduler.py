"""Background syncs: each connector with ``schedule = "15m"`` is synced that often while a
server runs (``inhouse serve`` starts one; an API server can reuse it).

One thread syncs the connectors that are due one after another, so a connector never has two
syncs at a time (the lock file of ``inhouse.sync`` also keeps out an ``inhouse sync`` run in
another process). A connector is due ``schedule`` after its last sync started, as
``<home>/sync.sqlite3`` records it, so a restarted server does not sync again at once; one
never synced is due at start. Stopping ends a running sync after the document in hand.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING

from inhouse.sync import SyncLog, sync_one

if TYPE_CHECKING:
    from inhouse.assistant import Assistant

MAX_SLEEP_S = 60.0  # the longest the thread waits before looking at the log again


class SyncScheduler:
    """Syncs ``assistant``'s scheduled connectors in a background thread between ``start`` and ``stop``."""

    def __init__(self, assistant: Assistant):
        self.assistant = assistant
        self.schedules = dict(assistant.settings.schedules)
        self.log = SyncLog(assistant.home)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Start the thread; False (and nothing started) when no connector has a ``schedule``."""
        if not self.schedules or self._thread is not None:
            return False
        self._thread = threading.Thread(target=self._run, daemon=True, name="inhouse-sync")
        self._thread.start()
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Stop: a running sync ends after the document in hand (everything committed stays)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def due(self, now: float) -> dict[str, float]:
        """When each scheduled connector is next due (a unix time; at or before ``now``: due now)."""
        records = self.log.records()
        return {name: records[name].started + every if name in records else now for name, every in self.schedules.items()}

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, when in sorted(self.due(time.time()).items(), key=lambda item: item[1]):
                if self._stop.is_set() or when > time.time():
                    break
                try:
                    sync_one(self.assistant, name, self.log, stop=self._stop)
                except Exception as exc:  # the log could not be written: say so, keep the server up
                    print(f"inhouse: the sync of connectors.{name} failed: {exc}", file=sys.stderr, flush=True)
            wait = min(self.due(time.time()).values()) - time.time()
            self._stop.wait(min(max(wait, 0.2), MAX_SLEEP_S))
