"""Places: regions, districts and mahallas, with names in four languages."""
