"""An in-memory vector tile cache keyed by dataset version, invalidated by NOTIFY.

Tiles only change when a dataset of a layer changes (migration 0002 makes every change of
``datasets`` or ``land_use_compatibility`` send ``NOTIFY tuzheng_datasets, '<layer>'``).

- Every rendered tile is stored under ``(collection, version, z, x, y)``, where the version
  was computed by the same statement as the tile (:func:`spatial.layers.tiles.render_tile`).
- The cache remembers the *current* version of each collection, learned from renders.
- A listener thread LISTENs on ``tuzheng_datasets``; a notification for a layer forgets the
  current version of every collection that depends on it and drops their tiles. The next
  request renders again and learns the new version.
- While the listener is not connected, the cache serves nothing (every request renders), so a
  lost notification can never serve a stale tile. A generation counter stops a render that
  raced with a notification from re-teaching an old version.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable

import psycopg
from psycopg_pool import ConnectionPool
from sqlalchemy import Engine

from spatial.layers.cachedtile import CachedTile, TileKey
from spatial.layers.collection import Collection
from spatial.layers.styles import SHOWN_BY_DEFAULT
from spatial.layers.tiles import TileAddress, render_tile_on
from spatial.layers.tilewarm import TileWarmer

log = logging.getLogger(__name__)

CHANNEL = "tuzheng_datasets"


class TileCache:
    """LRU of tiles keyed by collection version (thread-safe), bounded to ``max_bytes``."""

    def __init__(self, depends: dict[str, Iterable[str]], max_bytes: int = 256 << 20) -> None:
        self._depends = {cid: frozenset(layers) for cid, layers in depends.items()}
        self._max = max_bytes
        self._lock = threading.Lock()
        self._tiles: OrderedDict[TileKey, CachedTile] = OrderedDict()
        self._bytes = 0
        self._current: dict[str, str] = {}
        self.generation = 0
        self.listening = False
        self.hits = 0
        self.misses = 0
        self.on_invalidate: Callable[[set[str]], None] | None = None
        """Called with the ids of the collections whose tiles an invalidation dropped."""

    @property
    def max_bytes(self) -> int:
        """The cache's size bound (bytes)."""
        return self._max

    def peek(self, collection: str, z: int, x: int, y: int) -> bool:
        """Whether the tile is cached at the collection's current version (no LRU update)."""
        version = self._current.get(collection)
        return (
            self.listening
            and version is not None
            and TileKey(collection, version, z, x, y) in self._tiles
        )

    def get(self, collection: str, z: int, x: int, y: int) -> CachedTile | None:
        """The cached tile at the collection's current version, or None."""
        if not self.listening:
            return None
        version = self._current.get(collection)
        if version is None:
            return None
        key = TileKey(collection, version, z, x, y)
        with self._lock:
            tile = self._tiles.get(key)
            if tile is not None:
                self._tiles.move_to_end(key)
                self.hits += 1
        return tile

    def put(self, key: TileKey, tile: CachedTile, gen: int, warm: bool = False) -> None:
        """Store a tile rendered at ``key.version``; ``gen`` is :attr:`generation` before
        rendering.

        A ``warm`` tile (rendered ahead by :mod:`spatial.layers.tilewarm`) is not a miss and
        goes in as the least recently used, so warming never evicts a tile someone asked for.
        """
        with self._lock:
            if not warm:
                self.misses += 1
            if gen != self.generation or not self.listening:
                return  # a change was notified while rendering: don't trust this version
            old = self._tiles.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._tiles[key] = tile
            if warm:
                self._tiles.move_to_end(key, last=False)
            self._bytes += tile.size
            self._current[key.collection] = key.version
            while self._bytes > self._max and self._tiles:
                _, evicted = self._tiles.popitem(last=False)
                self._bytes -= evicted.size

    def invalidate(self, layer: str | None = None) -> None:
        """Forget tiles of collections depending on ``layer`` (all collections if None)."""
        with self._lock:
            self.generation += 1
            affected = {
                cid for cid, deps in self._depends.items() if layer is None or layer in deps
            }
            for cid in affected:
                self._current.pop(cid, None)
            for key in [k for k in self._tiles if k[0] in affected]:
                self._bytes -= self._tiles.pop(key).size
        if self.on_invalidate is not None and affected:
            self.on_invalidate(affected)

    def stats(self) -> dict[str, int]:
        """Entries, bytes, hits, misses and generation (for /health-like diagnostics)."""
        return {
            "tiles": len(self._tiles),
            "bytes": self._bytes,
            "hits": self.hits,
            "misses": self.misses,
            "generation": self.generation,
        }


class DatasetListener:
    """A daemon thread that LISTENs for dataset changes and invalidates a :class:`TileCache`."""

    def __init__(self, conninfo: str, cache: TileCache, retry_s: float = 1.0) -> None:
        self._conninfo = conninfo
        self._cache = cache
        self._retry = retry_s
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tile-cache-listener", daemon=True)

    def start(self, wait_s: float = 5.0) -> bool:
        """Start listening; True once the LISTEN is in place (within ``wait_s`` seconds)."""
        self._thread.start()
        return self._ready.wait(wait_s)

    def stop(self) -> None:
        """Stop the thread (it closes its connection within about a second)."""
        self._stop.set()
        self._cache.listening = False
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    # Changes made before LISTEN took effect were not notified: start afresh.
                    self._cache.invalidate(None)
                    self._cache.listening = True
                    self._ready.set()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._cache.invalidate(note.payload or None)
            except Exception as exc:  # noqa: BLE001 - any failure: stop caching, retry
                log.warning("tile cache listener lost its connection: %s", exc)
            finally:
                self._cache.listening = False
                self._cache.invalidate(None)
            self._stop.wait(self._retry)


POOL_WAIT_S = 5.0
"""Seconds a tile request waits for a connection of the tile pool before giving up."""


class TileService:
    """Tiles of the registered collections through the cache (start/stop with the app)."""

    def __init__(
        self,
        engine: Engine,
        collections: Iterable[Collection],
        max_bytes: int,
        connections: int = 8,
        warm_tiles: int = 0,
    ) -> None:
        cols = list(collections)
        # A psycopg pool of its own, fixed size, autocommit: concurrent renders queue for a
        # connection, each tile is one statement (no BEGIN/ROLLBACK round trips) and psycopg
        # keeps the prepared tile statements on the long-lived connections.
        conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.pool = ConnectionPool(
            conninfo,
            min_size=min(2, connections),
            max_size=connections,
            # JIT off, as for the app's engine (spatial.db): compiling costs more than a tile.
            # No parallel workers either: starting them costs more than most tiles take, and
            # on a loaded machine a worker's start can take hundreds of milliseconds.
            kwargs={
                "autocommit": True,
                "prepare_threshold": 1,
                "options": "-c jit=off -c max_parallel_workers_per_gather=0",
            },
            open=False,
            name="tuzheng-tiles",
            # wait at most this long for a connection: while the database is down a tile is
            # refused (503) within seconds instead of hanging for the default 30 s
            timeout=POOL_WAIT_S,
        )
        self.cache = TileCache({c.id: c.depends_on for c in cols}, max_bytes)
        self.listener = DatasetListener(conninfo, self.cache)
        # after a change, the tiles planners look at first are rendered ahead (bounded)
        self.warmer = TileWarmer(
            conninfo, self.cache, cols, self._live_busy, warm_tiles, SHOWN_BY_DEFAULT
        )
        self.cache.on_invalidate = self.warmer.changed

    def _live_busy(self) -> bool:
        """Whether live requests are rendering tiles or waiting for a pool connection."""
        stats = self.pool.get_stats()
        in_use = stats.get("pool_size", 0) - stats.get("pool_available", 0)
        return in_use > 0 or stats.get("requests_waiting", 0) > 0

    def start(self) -> bool:
        """Open the pool and start the NOTIFY listener (until it is up, nothing is cached)."""
        self.pool.open(wait=False)
        self.warmer.start()
        return self.listener.start()

    def stop(self) -> None:
        """Stop the listener and the warmer; close every connection of the tile pool."""
        self.warmer.stop()
        self.listener.stop()
        self.pool.close()

    def tile(self, col: Collection, addr: TileAddress) -> tuple[CachedTile, bool]:
        """The tile of ``col`` at ``addr`` and whether it came from the cache."""
        hit = self.cache.get(col.id, addr.z, addr.x, addr.y)
        if hit is not None:
            return hit, True
        gen = self.cache.generation
        with self.pool.connection() as conn:
            rendered = render_tile_on(conn, col, addr)
        tile = CachedTile.build(rendered.data)
        self.cache.put(TileKey(col.id, rendered.version, addr.z, addr.x, addr.y), tile, gen)
        return tile, False
