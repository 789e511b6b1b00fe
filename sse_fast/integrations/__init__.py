"""Thin, optional integrations with web frameworks; each imports its framework itself."""
