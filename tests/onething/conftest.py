"""The bundle tests run in the case tests' world: the whole catalog, the calendar, a reviewer
per department; plus a window at whichever counter a bundle case is routed to."""

from __future__ import annotations

from tests.cases.conftest import a_known_day, full  # noqa: F401  (fixtures, by name)
