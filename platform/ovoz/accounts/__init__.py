"""Residents and staff: identity, sign-in, sessions, roles."""
