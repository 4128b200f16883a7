"""`catalog export` writes what `catalog load` reads: the same catalog comes back."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from tests.conftest import MINI_CATALOG
from tongban.catalog.loader import CatalogSource, read_catalog
from tongban.catalog.service import (
    SearchParams,
    export_catalog,
    get_guide,
    load_catalog_dir,
    save_matter,
    search_matters,
)


def as_plain(src: CatalogSource) -> dict[str, object]:
    tables = (
        "districts",
        "streets",
        "departments",
        "halls",
        "elements",
        "license_types",
        "matters",
    )
    return {t: {k: v.model_dump() for k, v in getattr(src, t).items()} for t in tables}


def test_the_shipped_catalog_round_trips(db: Session, tmp_path: Path) -> None:
    export_catalog(db, tmp_path / "out")
    again = read_catalog(tmp_path / "out")
    original = read_catalog()
    assert as_plain(again) == as_plain(original)
    assert again.source_note == original.source_note


def test_an_edit_round_trips_and_reloads_without_a_new_version(
    empty_db: Session, tmp_path: Path
) -> None:
    load_catalog_dir(empty_db, MINI_CATALOG)
    original = read_catalog(MINI_CATALOG).matters["07P000000001"]
    save_matter(empty_db, original.model_copy(update={"description": "迁入本市的户口登记"}))
    # Search words are not part of the guide: changing them makes no new guide version.
    edited = original.model_copy(
        update={"description": "迁入本市的户口登记", "keywords": ["迁户口"]}
    )
    assert save_matter(empty_db, edited).version == 2
    assert search_matters(empty_db, SearchParams(q="迁户口")).items[0].code == "07P000000001"
    export_catalog(empty_db, tmp_path / "out")
    assert read_catalog(tmp_path / "out").matters["07P000000001"] == edited
    report = load_catalog_dir(empty_db, tmp_path / "out")
    assert report.updated == [] and report.created == []
    assert get_guide(empty_db, "07P000000001").versions == [1, 2]
