"""Problem reports on a map: roads, waste, water, lighting, routed to the responsible department."""
