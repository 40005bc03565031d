"""tuzheng's domain layer: models, store, CRS, ingestion, analyses and rules. No HTTP here."""
