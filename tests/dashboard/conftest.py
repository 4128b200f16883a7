"""The dashboard reads what the cases did: the case tests' world (whole catalog, calendar, a
reviewer per department)."""

from tests.cases.conftest import a_known_day, full

__all__ = ["a_known_day", "full"]
