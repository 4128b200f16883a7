"""The demo world of the code tests (demo people, accounts, keys), once per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import migrated_engine
from tests.idcode.conftest import World, build_world
from tongban.catalog.loader import CatalogSource


@pytest.fixture(scope="module")
def world(
    backend: str, tmp_path_factory: pytest.TempPathFactory, reference_catalog: CatalogSource
) -> Iterator[World]:
    with migrated_engine(backend, Path(tmp_path_factory.mktemp("licenses"))) as engine:
        yield from build_world(engine, reference_catalog)
