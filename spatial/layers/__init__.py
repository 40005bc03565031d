"""Map layers: the registry of collections, OGC API Features queries, CQL2 and vector tiles."""
