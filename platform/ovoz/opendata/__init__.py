"""Open data: every public dataset in bulk (CSV, JSON, GeoJSON), its data dictionary, and the
ledger export anyone can check offline."""
