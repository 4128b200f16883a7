"""Principals (persons, enterprises, their agents), accounts, roles, login and tokens."""
