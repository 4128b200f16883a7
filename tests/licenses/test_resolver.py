"""免提交: each material of a real matter resolved for real applicants."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import migrated_engine
from tests.idcode.conftest import World, build_world
from tongban.catalog.loader import read_catalog
from tongban.catalog.models import LicenseType, Matter, MatterMaterial
from tongban.identity.models import Enterprise

SCHOOL = "20P010000001"  # 义务教育阶段入学报名登记: hukou booklet and ID cards among its materials


@pytest.fixture(scope="module")
def full(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The demo world on the whole shipped catalog, matters included."""
    with migrated_engine(backend, Path(tmp_path_factory.mktemp("resolver"))) as engine:
        yield from build_world(engine, read_catalog())


def resolve(world: World, code: str, user: str, **params: str) -> Any:
    r = world.client.get(
        f"/api/v1/matters/{code}/materials/resolve", params=params, headers=world.auth(user)
    )
    assert r.status_code == 200, r.text
    return r.json()


def by_key(answer: Any) -> dict[str, Any]:
    return {i["key"]: i for i in answer["items"]}


def license_keys(world: World, code: str) -> dict[str, str]:
    """material key -> license type key, for a matter's license-sourced materials."""
    with world.session() as session:
        rows = session.execute(
            select(MatterMaterial.key, LicenseType.key)
            .join(Matter, Matter.id == MatterMaterial.matter_id)
            .join(LicenseType, LicenseType.id == MatterMaterial.license_type_id)
            .where(Matter.code == code)
        ).all()
    return {str(m): str(t) for m, t in rows}


def test_licenses_the_applicant_holds_are_fetched_not_asked_for(full: World) -> None:
    answer = resolve(full, SCHOOL, "citizen1")
    items = by_key(answer)
    wanted = license_keys(full, SCHOOL)
    assert set(wanted.values()) >= {"household_register", "resident_id_card"}
    for material, type_key in wanted.items():
        if type_key in ("household_register", "resident_id_card"):  # the demo issued these
            assert items[material]["resolution"] == "license"
            assert items[material]["identifier"].startswith("1.2.156.3005.2.")
        else:  # e.g. the vaccination certificate, which nobody in the demo holds
            assert items[material]["reason"] == "no_license"
    assert answer["exempt"] + answer["to_upload"] == len(answer["items"])


def test_without_the_license_the_applicant_is_told_why(full: World) -> None:
    # enterprise1's agent is a citizen too, but holds no personal licenses in the demo.
    items = by_key(resolve(full, SCHOOL, "enterprise1"))
    for material in license_keys(full, SCHOOL):
        assert items[material]["resolution"] == "upload"
        assert items[material]["reason"] == "no_license"
        assert "请提交" in items[material]["detail"]


def test_a_license_that_is_not_valid_does_not_count(full: World) -> None:
    registry = full.client.app.state.licenses  # type: ignore[attr-defined]
    from tongban.licenses.service import SYSTEM_ACTOR, change_status, holder_licenses

    with full.session() as session:
        from tongban.identity.models import Account

        person_id = session.scalar(select(Account.person_id).where(Account.username == "citizen2"))
        held = holder_licenses(session, person_id=person_id)
        register = next(r for r in held if "household" in _type_key(session, r.type_id))
        change_status(session, registry, SYSTEM_ACTOR, register.identifier, "suspend", "核查")
        session.commit()
        suspended = register.identifier
    items = by_key(resolve(full, SCHOOL, "citizen2"))
    hukou = next(i for i in items.values() if i.get("identifier") == suspended)
    assert hukou["resolution"] == "upload"
    assert hukou["reason"] == "license_not_valid"
    assert "暂扣" in hukou["detail"]


def _type_key(session: Any, type_id: int) -> str:
    return str(session.scalar(select(LicenseType.key).where(LicenseType.id == type_id)))


def test_an_agent_resolves_for_the_enterprise(full: World) -> None:
    with full.session() as session:
        code = session.scalars(
            select(Matter.code)
            .join(MatterMaterial, MatterMaterial.matter_id == Matter.id)
            .join(LicenseType, LicenseType.id == MatterMaterial.license_type_id)
            .where(LicenseType.key == "business_license", Matter.for_enterprise.is_(True))
            .order_by(Matter.code)
        ).first()
        uscc = session.scalars(select(Enterprise.uscc).order_by(Enterprise.id)).first()
    assert code
    assert uscc
    items = by_key(resolve(full, code, "enterprise1", uscc=uscc))
    business = [
        i for k, i in items.items() if license_keys(full, code).get(k) == "business_license"
    ]
    assert business
    assert all(i["resolution"] == "license" for i in business)
    other = full.client.get(
        f"/api/v1/matters/{code}/materials/resolve",
        params={"uscc": uscc},
        headers=full.auth("citizen1"),
    )
    assert other.status_code == 403


def test_department_materials_come_by_data_sharing(full: World) -> None:
    with full.session() as session:
        row = session.execute(
            select(Matter.code, MatterMaterial.key)
            .join(MatterMaterial, MatterMaterial.matter_id == Matter.id)
            .where(MatterMaterial.source == "department", MatterMaterial.exempt.is_(True))
            .order_by(Matter.code)
        ).first()
    assert row is not None
    code, key = row
    item = by_key(resolve(full, code, "citizen1"))[key]
    assert item["resolution"] == "department"
    assert "数据共享" in item["detail"]


def test_an_unknown_matter_is_404(full: World) -> None:
    r = full.client.get(
        "/api/v1/matters/ZZZZZZZZZZZZ/materials/resolve", headers=full.auth("citizen1")
    )
    assert r.status_code == 404
