"""tuzheng's HTTP layer: parse, authorise, call ``spatial``, serialise."""
