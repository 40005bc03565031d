"""Phases of running uploads, for the upload page (server-sent events).

The page picks a random progress id and sends it with the upload; the ingest's ``progress``
callback (which runs in the request's worker thread) posts each phase here, and
``GET /uploads/progress/{id}`` streams them to the same user as ``text/event-stream``. Entries
are kept in the API process's memory for :data:`KEEP_S` seconds (one uvicorn worker serves a
page's requests; with several, a page falls back to showing the final report only).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

KEEP_S = 900.0


@dataclass
class _Entry:
    owner: str
    phases: list[str] = field(default_factory=list)
    done: str | None = None
    touched: float = field(default_factory=time.monotonic)


class ProgressBoard:
    """Thread-safe phases per (owner, progress id)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def _entry(self, owner: str, pid: str) -> _Entry | None:
        now = time.monotonic()
        for key in [k for k, e in self._entries.items() if now - e.touched > KEEP_S]:
            del self._entries[key]
        entry = self._entries.get(pid)
        if entry is None:
            entry = self._entries[pid] = _Entry(owner)
        if entry.owner != owner:
            return None  # another user's id: never shown, never written
        entry.touched = now
        return entry

    def phase(self, owner: str, pid: str, phase: str) -> None:
        """Record that upload ``pid`` of ``owner`` entered ``phase``."""
        with self._lock:
            entry = self._entry(owner, pid)
            if entry is not None:
                entry.phases.append(phase)

    def finish(self, owner: str, pid: str, status: str) -> None:
        """Record that upload ``pid`` ended with ``status``."""
        with self._lock:
            entry = self._entry(owner, pid)
            if entry is not None:
                entry.done = status

    def since(self, owner: str, pid: str, seen: int) -> tuple[list[str], str | None]:
        """Phases after the first ``seen`` ones, and the final status if it ended."""
        with self._lock:
            entry = self._entry(owner, pid)
            if entry is None:
                return [], "forbidden"
            return entry.phases[seen:], entry.done
