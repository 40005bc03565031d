"""A rendered vector tile as it is cached and sent: bytes, gzip bytes and a strong ETag.

Its own module so that the cache (:mod:`spatial.layers.tilecache`) and the warmer
(:mod:`spatial.layers.tilewarm`) both build tiles without importing each other.
"""

from __future__ import annotations

import gzip
import hashlib
from typing import NamedTuple


class TileKey(NamedTuple):
    """Where a tile is cached: its collection, the dataset version it was rendered at, z/x/y."""

    collection: str
    version: str
    z: int
    x: int
    y: int


class CachedTile:
    """A tile ready to send: raw bytes, gzip bytes (made on first use) and a strong ETag.

    Empty tiles have no bytes and are served as 204.
    """

    __slots__ = ("_gzipped", "data", "etag")

    def __init__(self, data: bytes, etag: str) -> None:
        self.data = data
        self.etag = etag
        self._gzipped: bytes | None = None

    @property
    def empty(self) -> bool:
        """True for a tile without features (served as 204)."""
        return not self.data

    @property
    def gzipped(self) -> bytes:
        """The gzip-compressed tile, compressed once on first request."""
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.data, 6) if self.data else b""
        return self._gzipped

    @property
    def size(self) -> int:
        """Bytes held in memory (counting a gzip copy as up to the raw size)."""
        return 2 * len(self.data) + 64

    @classmethod
    def build(cls, data: bytes) -> CachedTile:
        """Hash the content into the ETag."""
        return cls(data, '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"')
