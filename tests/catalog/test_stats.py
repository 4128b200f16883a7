"""Catalog statistics agree with the catalog files, counted here independently."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tongban.catalog.loader import read_catalog
from tongban.catalog.service import catalog_stats


def test_stats_match_the_shipped_files(db: Session) -> None:
    src = read_catalog()
    stats = catalog_stats(db)
    materials = [m for matter in src.matters.values() for m in matter.materials]
    by_source = {
        s: sum(1 for m in materials if m.source.value == s)
        for s in ("applicant", "department", "license")
    }
    city = {k for k, d in src.departments.items() if d.level.value != "external"}
    issued = [m for m in materials if m.source.value in ("department", "license")]
    exempt = [m for m in issued if m.source.value == "license" or m.department in city]

    assert stats.matters == len(src.matters)
    assert stats.materials == len(materials)
    assert stats.materials_by_source == by_source
    assert stats.department_issued_materials == len(issued)
    assert stats.department_issued_exempt == len(exempt)
    assert stats.exemption_rate == round(len(exempt) / len(issued), 4)
    assert stats.exempt_materials == len(exempt)
    online = [
        m
        for m in src.matters.values()
        if m.trips == 0 and "online" in [f.value for f in m.handling_forms]
    ]
    assert stats.fully_online_matters == len(online)
    assert (
        abs(stats.average_trips - sum(m.trips for m in src.matters.values()) / len(src.matters))
        < 1e-3
    )
    assert stats.departments == len(city)
    assert sum(stats.matters_by_kind.values()) == len(src.matters)


def test_the_shipped_catalog_reflects_the_reform(db: Session) -> None:
    stats = catalog_stats(db)
    # The seed reports 96% of department-issued materials exempt; ours is computed, and the
    # shipped catalog should land near it, not at a hand-set 100%.
    assert 0.85 <= stats.exemption_rate < 1.0
    assert stats.matters >= 80 and stats.departments >= 15
    assert stats.prefillable_fields > stats.fields / 2
