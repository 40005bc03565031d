"""The layer registry: every map layer (collection) with a stable id, titles and a schema.

This is the only place that names relations and columns for the OGC API, the vector tiles and
the web map. Requests name collections and properties; both are looked up here and anything
else is refused, so no identifier ever comes from user input. The table layers are derived
from their declarations (:mod:`spatial.layers.tables`), the analysis layers are listed in
:mod:`spatial.layers.analysis`; the types they share are in :mod:`spatial.layers.collection`.

Every geometry is read from ``geom`` (EPSG:4547) for features and from ``geom_3857`` (an
indexed, generated Web Mercator copy, migration 0002) for tiles.

The API builds one registry at start-up (``app.state.registry``); notebooks and scripts call
:func:`build_registry`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from spatial.errors import NotFound
from spatial.layers.analysis import ANALYSIS_COLLECTIONS
from spatial.layers.collection import Collection, Prop, PropType
from spatial.layers.procedure import PROCEDURE_COLLECTIONS
from spatial.layers.tables import table_collections

__all__ = ["Collection", "Prop", "PropType", "Registry", "build_registry"]


class Registry:
    """An ordered, immutable set of collections looked up by id."""

    def __init__(self, collections: Iterable[Collection]) -> None:
        items = tuple(collections)
        self._items = {c.id: c for c in items}
        if len(self._items) != len(items):
            raise ValueError("duplicate collection ids")

    def __iter__(self) -> Iterator[Collection]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def ids(self) -> list[str]:
        """Collection ids in registry order."""
        return list(self._items)

    def get(self, collection_id: str) -> Collection:
        """The collection ``collection_id``; NotFound (404) if it is not registered."""
        try:
            return self._items[collection_id]
        except KeyError:
            raise NotFound("没有此图层", f"no such collection: {collection_id[:100]!r}") from None


def build_registry(extra: Iterable[Collection] = ()) -> Registry:
    """The served table layers (from the declarations), the analysis layers, the procedure
    layer (:mod:`spatial.layers.procedure`), then ``extra``."""
    return Registry((*table_collections(), *ANALYSIS_COLLECTIONS, *PROCEDURE_COLLECTIONS, *extra))
