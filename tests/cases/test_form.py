"""The prefilled form: 免填报 from the base registries and licenses, 免提交 from the resolver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import migrated_engine
from tests.idcode.conftest import World, build_world
from tests.idcode.test_api import id_number_of
from tongban.catalog.loader import read_catalog
from tongban.catalog.models import DataElement, Matter, MatterField
from tongban.identity.models import Enterprise

SCHOOL = "20P010000001"


@pytest.fixture(scope="module")
def full(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with migrated_engine(backend, Path(tmp_path_factory.mktemp("form"))) as engine:
        yield from build_world(engine, read_catalog())


def form(world: World, code: str, user: str, **params: str) -> Any:
    r = world.client.get(f"/api/v1/matters/{code}/form", params=params, headers=world.auth(user))
    assert r.status_code == 200, r.text
    return r.json()


def test_a_persons_form_is_filled_from_their_own_record(full: World) -> None:
    answer = form(full, SCHOOL, "citizen1")
    fields = {f["key"]: f for f in answer["fields"]}
    assert fields["person.id_number"]["value"] == id_number_of(full, "citizen1")
    assert fields["person.id_number"]["prefilled_from"] == "人口库"
    assert fields["person.name"]["label"] == "监护人姓名"  # the matter's own label
    assert fields["student.enrollment_stage"]["value"] is None  # nobody holds this
    assert fields["student.enrollment_stage"]["prefilled_from"] is None
    materials = {m["key"]: m for m in answer["materials"]}
    assert materials["household_register"]["resolution"] == "license"


def test_an_agents_form_is_filled_from_the_enterprise_and_its_licenses(full: World) -> None:
    with full.session() as session:
        code = session.scalars(
            select(Matter.code)
            .join(MatterField, MatterField.matter_id == Matter.id)
            .join(DataElement, DataElement.id == MatterField.element_id)
            .where(DataElement.key == "enterprise.name", Matter.for_enterprise.is_(True))
            .order_by(Matter.code)
        ).first()
        enterprise = session.scalars(select(Enterprise).order_by(Enterprise.id)).first()
        assert enterprise is not None
        uscc, name = enterprise.uscc, enterprise.name
    assert code
    fields = {f["key"]: f for f in form(full, code, "enterprise1", uscc=uscc)["fields"]}
    assert fields["enterprise.name"]["value"] == name
    assert fields["enterprise.name"]["prefilled_from"] == "法人库"
    refused = full.client.get(
        f"/api/v1/matters/{code}/form", params={"uscc": uscc}, headers=full.auth("citizen1")
    )
    assert refused.status_code == 403


def test_license_content_fills_what_the_registries_do_not(full: World) -> None:
    with full.session() as session:
        code = session.scalars(
            select(Matter.code)
            .join(MatterField, MatterField.matter_id == Matter.id)
            .join(DataElement, DataElement.id == MatterField.element_id)
            .where(DataElement.key == "enterprise.business_scope")
            .order_by(Matter.code)
        ).first()
        uscc = session.scalars(select(Enterprise.uscc).order_by(Enterprise.id)).first()
    assert code  # the shipped catalog has such matters
    fields = {f["key"]: f for f in form(full, code, "enterprise1", uscc=str(uscc))["fields"]}
    assert fields["enterprise.business_scope"]["prefilled_from"] == "电子证照：营业执照"
    assert "食品销售" in fields["enterprise.business_scope"]["value"]
