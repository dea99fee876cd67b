"""Shared state every app server sees: a key-value store (sessions) and rate-limit counters,
kept in the database so any number of workers and machines serve the same site."""
