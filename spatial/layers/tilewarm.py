"""Warming the tile cache after a change: the tiles planners look at first, in the background.

After a publish (or any change the tile cache is told about), the tiles of the changed
collections are gone from the cache, and the first planner to open the map would wait for
every one of them. :class:`TileWarmer` renders them ahead, in one background thread:

- **which tiles**: the views the web map opens on — the extent of all projects at the zoom
  where it fits the window, then each project at the zoom the project picker shows it
  (its extent fitted to the window) and one zoom out — for the collections the map shows
  when it opens (:data:`spatial.layers.styles.SHOWN_BY_DEFAULT`) that changed, or all the
  changed ones when none of those did;
- **bounded**: at most ``max_tiles`` renders per change, and never more than a quarter of the
  cache's bytes; a newer change restarts the plan with the union of what changed;
- **never in the way**: it renders on a connection of its own, one tile at a time, waits while
  any live request is rendering or queued for the tile pool, and rests as long as each render
  took (so it uses at most half a core); it only reads, so it never blocks a publish.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import psycopg

from spatial.layers.cachedtile import CachedTile, TileKey
from spatial.layers.collection import Collection
from spatial.layers.tiles import TileAddress, render_tile_on


class WarmableCache(Protocol):
    """What the warmer needs of :class:`spatial.layers.tilecache.TileCache` (which it serves,
    and which starts it: a protocol, so the two modules do not import each other)."""

    generation: int

    @property
    def max_bytes(self) -> int:
        """The cache's size bound, bytes."""
        ...

    def peek(self, collection: str, z: int, x: int, y: int) -> bool:
        """Whether the tile is cached at the collection's current version."""
        ...

    def put(self, key: TileKey, tile: CachedTile, gen: int, warm: bool = False) -> None:
        """Store a tile rendered at ``key.version`` (``gen``: the generation before rendering)."""
        ...


log = logging.getLogger(__name__)

WORLD = 20037508.342789244
"""Half the side of the Web Mercator world, m (EPSG:3857)."""
VIEW_PX = (1280, 800)
"""The map window the views are fitted to (CSS pixels)."""
MAX_VIEW_ZOOM = 18


def fit_zoom(xmin: float, ymin: float, xmax: float, ymax: float) -> int:
    """The largest zoom at which the EPSG:3857 box fits :data:`VIEW_PX` (as Leaflet's
    ``fitBounds`` picks it)."""
    w, h = max(xmax - xmin, 1.0), max(ymax - ymin, 1.0)
    z = math.floor(
        math.log2(min(VIEW_PX[0] * 2 * WORLD / 256 / w, VIEW_PX[1] * 2 * WORLD / 256 / h))
    )
    return max(0, min(MAX_VIEW_ZOOM, z))


def tiles_of(box: tuple[float, float, float, float], z: int) -> list[TileAddress]:
    """The tiles at zoom ``z`` covering an EPSG:3857 box, row by row."""
    n = 1 << z
    size = 2 * WORLD / n

    def col(x: float) -> int:
        return min(n - 1, max(0, int((x + WORLD) // size)))

    def row(y: float) -> int:
        return min(n - 1, max(0, int((WORLD - y) // size)))

    return [
        TileAddress(z, x, y)
        for y in range(row(box[3]), row(box[1]) + 1)
        for x in range(col(box[0]), col(box[2]) + 1)
    ]


def warm_plan(extents: list[tuple[float, float, float, float]]) -> list[TileAddress]:
    """Tiles in the order a planner sees them: the whole view, then each project's.

    ``extents`` are the projects' EPSG:3857 boxes (``xmin, ymin, xmax, ymax``).
    """
    if not extents:
        return []
    whole = (
        min(e[0] for e in extents),
        min(e[1] for e in extents),
        max(e[2] for e in extents),
        max(e[3] for e in extents),
    )
    plan: list[TileAddress] = list(tiles_of(whole, fit_zoom(*whole)))
    for e in extents:
        z = fit_zoom(*e)
        plan += tiles_of(e, max(0, z - 1)) + tiles_of(e, z)
    seen: set[TileAddress] = set()
    return [t for t in plan if not (t in seen or seen.add(t))]  # type: ignore[func-returns-value]


EXTENTS_SQL = (
    "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM ("
    "SELECT ST_Extent(geom_3857)::box2d AS b FROM current_projects "
    "WHERE geom_3857 IS NOT NULL GROUP BY code ORDER BY code) e"
)


class TileWarmer:
    """Renders the tiles of changed collections ahead of the first planner (see module doc).

    Parameters
    ----------
    conninfo
        libpq connection string of the store (the warmer opens a connection of its own).
    cache
        The tile cache to fill.
    collections
        Every served collection, by id.
    busy
        Returns True while live requests are rendering tiles or waiting for a connection.
    max_tiles
        Renders per change at most (0: never warm).
    shown
        Ids of the collections the map shows when it opens (warmed first, or alone).
    """

    def __init__(
        self,
        conninfo: str,
        cache: WarmableCache,
        collections: Iterable[Collection],
        busy: Callable[[], bool],
        max_tiles: int,
        shown: Iterable[str] = (),
    ) -> None:
        self._conninfo = conninfo
        self._cache = cache
        self._cols = {c.id: c for c in collections}
        self._busy = busy
        self.max_tiles = max_tiles
        self._shown = frozenset(shown)
        self._pending: set[str] = set()
        self._wake = threading.Condition()
        self._stop = False
        self.rendered = 0
        """Tiles rendered so far (for tests and diagnostics)."""
        self.runs = 0
        """Warm-up runs finished (every tile of the plan done, the bound reached or a newer
        change taken up)."""
        self._working = False
        self._thread = threading.Thread(target=self._run, name="tile-warmer", daemon=True)

    def start(self) -> None:
        """Start the background thread (it waits for a change)."""
        if self.max_tiles > 0:
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread; a render in progress finishes first."""
        with self._wake:
            self._stop = True
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def changed(self, collection_ids: Iterable[str]) -> None:
        """Called by the cache listener: these collections' tiles were dropped."""
        ids = set(collection_ids) & set(self._cols)
        if not ids or self.max_tiles <= 0:
            return
        with self._wake:
            self._pending |= ids
            self._wake.notify()

    @property
    def idle(self) -> bool:
        """True when no change waits to be warmed and no warm-up is running."""
        with self._wake:
            return not self._pending and not self._working

    def _next(self) -> set[str] | None:
        with self._wake:
            self._working = False
            while not self._pending and not self._stop:
                self._wake.wait()
            if self._stop:
                return None
            ids, self._pending = self._pending, set()
            self._working = True
            return ids

    def _run(self) -> None:
        while (ids := self._next()) is not None:
            try:
                self._warm(ids)
            except Exception as exc:  # noqa: BLE001 - warming is best effort; live tiles work
                log.warning("tile warming stopped: %s", exc)
                time.sleep(1.0)
            self.runs += 1

    def _warm(self, ids: set[str]) -> None:
        first = sorted(ids & self._shown) or sorted(ids)
        cols = [self._cols[i] for i in first]
        budget = self._cache.max_bytes // 4
        kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": 1}
        opts = "-c jit=off -c max_parallel_workers_per_gather=0"
        with psycopg.connect(self._conninfo, options=opts, **kwargs) as conn:
            extents = [tuple(r) for r in conn.execute(EXTENTS_SQL).fetchall()]
            done = 0
            used = 0
            for tile in warm_plan(extents):  # type: ignore[arg-type]
                for col in cols:
                    if done >= self.max_tiles or used >= budget or self._pending or self._stop:
                        return  # bounded; or a newer change: start again with the union
                    if self._cache.peek(col.id, tile.z, tile.x, tile.y):
                        continue
                    while self._busy() and not self._stop:
                        time.sleep(0.05)  # live requests first
                    gen = self._cache.generation
                    t0 = time.perf_counter()
                    rendered = render_tile_on(conn, col, tile)
                    took = time.perf_counter() - t0
                    cached = self._put(col, tile, rendered.data, rendered.version, gen)
                    used += cached.size
                    done += 1
                    self.rendered += 1
                    time.sleep(took)  # at most half a core

    def _put(
        self, col: Collection, tile: TileAddress, data: bytes, version: str, gen: int
    ) -> CachedTile:
        cached = CachedTile.build(data)
        self._cache.put(TileKey(col.id, version, tile.z, tile.x, tile.y), cached, gen, warm=True)
        return cached
