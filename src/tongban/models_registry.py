"""Import every feature module's tables so Base.metadata knows them (migrations, tests)."""

from __future__ import annotations

import importlib

# By name, so no linter can mistake these imports for unused ones and drop them.
MODEL_MODULES = (
    "tongban.audit.models",
    "tongban.cases.models",
    "tongban.catalog.models",
    "tongban.crypto.models",
    "tongban.crypto.signing",  # registers the encrypted private halves for key rotation
    "tongban.federation.models",
    "tongban.idcode.models",
    "tongban.identity.models",
    "tongban.licenses.models",
    "tongban.notify.models",
    "tongban.onething.models",
    "tongban.prereview.models",
    "tongban.ratings.models",
    "tongban.workdays.models",
)


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
