"""Petitions (collective appeals): sponsors, moderation, signing, official responses."""
