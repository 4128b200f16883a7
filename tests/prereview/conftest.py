"""Pre-review runs in the case tests' world (the whole shipped catalog)."""

from __future__ import annotations

from tests.cases.conftest import a_known_day, full  # noqa: F401  (fixtures, by name)
