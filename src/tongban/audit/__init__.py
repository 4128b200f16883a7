"""Tamper-evident audit log: each entry chained to the one before by an SM3 hash."""
