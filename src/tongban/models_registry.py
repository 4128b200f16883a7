"""Import every feature module's tables so Base.metadata knows them (migrations, tests)."""

from __future__ import annotations


def import_all_models() -> None:
    import tongban.audit.models
    import tongban.catalog.models
    import tongban.crypto.models
    import tongban.identity.models  # noqa: F401
