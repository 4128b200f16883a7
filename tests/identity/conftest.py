"""Identity fixtures live in tests/fixtures_identity.py (shared with the access tests)."""
