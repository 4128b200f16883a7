"""Guides: 免提交 and 免填报 computed from the catalog, halls by 两个集中, pinned versions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tests.conftest import MINI_CATALOG
from tongban.catalog.loader import read_catalog
from tongban.catalog.schemas import MaterialIn
from tongban.catalog.service import apply_catalog, get_guide, load_catalog_dir, save_matter
from tongban.errors import DomainError, NotFound


@pytest.fixture
def mini_db(empty_db: Session) -> Session:
    load_catalog_dir(empty_db, MINI_CATALOG)
    empty_db.flush()
    return empty_db


def by_key(items: list, key: str):  # type: ignore[no-untyped-def]
    return {i.key if hasattr(i, "key") else i.element: i for i in items}[key]


def test_materials_are_exempt_by_their_source(mini_db: Session) -> None:
    guide = get_guide(mini_db, "07P000000001")
    mats = {m.key: m for m in guide.materials}
    # An e-license in the registry: exempt, and the reason names the license type.
    assert mats["id_card"].exempt and "居民身份证" in (mats["id_card"].exempt_reason or "")
    assert mats["id_card"].license_type == {
        "key": "resident_id_card",
        "code": "11310000T00000003L001",
        "name": "居民身份证",
    }
    # Issued by a body of this city (a district one too): found through data sharing.
    assert mats["pd_record"].exempt
    assert "上海市浦东新区市场监督管理局" in (mats["pd_record"].exempt_reason or "")
    # Issued by another province's police: the applicant has to bring it.
    assert not mats["origin_proof"].exempt
    assert mats["origin_proof"].department == {"code": "ext-other-police", "name": "外省市公安机关"}
    # The applicant's own: not exempt, no reason.
    assert not mats["photo"].exempt and mats["photo"].exempt_reason is None
    assert mats["photo"].copies == 2 and mats["photo"].form == "paper"
    assert guide.exempt_materials == 2


def test_fields_are_prefillable_from_base_records_and_licenses(mini_db: Session) -> None:
    food = {f.element: f for f in get_guide(mini_db, "01E000000001").fields}
    assert food["enterprise.name"].prefill_source == "法人库"
    assert food["person.name"].prefill_source == "人口综合库"
    assert food["person.name"].label == "经办人姓名"  # the form's own label wins
    # Not in any base record, but on a license an enterprise holds (门店备案凭证).
    assert food["store.area"].prefillable
    assert food["store.area"].prefill_source == "电子证照：门店备案凭证"
    assert food["food.category"].options == ["预包装食品", "散装食品"]
    assert not food["permit.number"].required
    # The same element is not prefillable for a person: only enterprises hold that license.
    hukou = {f.element: f for f in get_guide(mini_db, "07P000000001").fields}
    assert hukou["person.id_number"].prefillable
    assert not hukou["store.area"].prefillable


def test_halls_follow_the_two_concentrations(mini_db: Session) -> None:
    personal = get_guide(mini_db, "07P000000001")
    assert [h.code for h in personal.halls] == ["hall-310101002", "hall-310115004"]
    assert {h.kind for h in personal.halls} == {"street_center"}
    assert personal.halls[0].street_name == "南京东路街道"
    assert "街镇社区事务受理服务中心" in personal.hall_rule
    enterprise = get_guide(mini_db, "01E000000001")
    assert [h.code for h in enterprise.halls] == ["hall-310101-admin", "hall-310115-admin"]
    assert "全程网办" in enterprise.hall_rule
    # A district department's matter is handled in its own district only.
    pudong = get_guide(mini_db, "07E000000002")
    assert [h.code for h in pudong.halls] == ["hall-310115-admin"]
    # A matter handled at a specialized hall lists just that hall.
    passport = get_guide(mini_db, "20P000000003")
    assert [h.code for h in passport.halls] == ["hall-crj"]


def test_the_guide_carries_everything_in_reading_order(mini_db: Session) -> None:
    g = get_guide(mini_db, "07P000000001")
    assert (g.name, g.kind, g.kind_name, g.case_type_name) == (
        "户口迁入登记",
        "07",
        "行政确认",
        "承诺件",
    )
    assert (g.statutory_days, g.promised_days, g.trips) == (20, 10, 1)
    assert g.trips_reason == "需现场采集人像"
    assert not g.fully_online
    assert [s.name for s in g.steps] == ["申请", "受理", "审核"]
    assert [s.order for s in g.steps] == [1, 2, 3]
    assert g.department.code == "sh-gaj"
    assert g.assumptions == {"promised_limit": "测试用"}
    food = get_guide(mini_db, "01E000000001")
    assert (
        food.fully_online
        and food.issues_license
        and food.issues_license["name"] == "食品经营许可证"
    )


def test_unknown_matter_and_version(mini_db: Session) -> None:
    with pytest.raises(NotFound) as info:
        get_guide(mini_db, "NOPE")
    assert info.value.code == "matter_not_found"
    with pytest.raises(NotFound) as info:
        get_guide(mini_db, "07P000000001", version=2)
    assert info.value.code == "matter_version_not_found"


def test_a_changed_guide_gets_a_new_version_and_the_old_one_stays(
    mini_db: Session, tmp_path: Path
) -> None:
    root = tmp_path / "c"
    shutil.copytree(MINI_CATALOG, root)
    path = root / "matters" / "sh-gaj.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("{working_days: 10}", "{working_days: 5}"),
        encoding="utf-8",
    )
    report = apply_catalog(mini_db, read_catalog(root))
    assert report.updated == ["07P000000001"] and report.unchanged == 3
    now = get_guide(mini_db, "07P000000001")
    assert (now.version, now.versions, now.promised_days) == (2, [1, 2], 5)
    old = get_guide(mini_db, "07P000000001", version=1)
    assert (old.version, old.promised_days) == (1, 10)


def test_reloading_the_same_catalog_changes_no_version(mini_db: Session) -> None:
    report = load_catalog_dir(mini_db, MINI_CATALOG)
    assert report.created == [] and report.updated == [] and report.unchanged == 4
    assert get_guide(mini_db, "01E000000001").versions == [1]


def test_a_department_rename_shows_in_a_new_guide_version(mini_db: Session, tmp_path: Path) -> None:
    root = tmp_path / "c"
    shutil.copytree(MINI_CATALOG, root)
    deps = root / "departments.yaml"
    deps.write_text(
        deps.read_text(encoding="utf-8").replace(
            "name: 上海市公安局,", "name: 上海市公安局（新）,"
        ),
        encoding="utf-8",
    )
    report = apply_catalog(mini_db, read_catalog(root))
    assert sorted(report.updated) == ["07P000000001", "20P000000003"]
    assert get_guide(mini_db, "20P000000003", version=1).department.name == "上海市公安局"
    assert get_guide(mini_db, "20P000000003").department.name == "上海市公安局（新）"


def test_an_admin_edit_is_a_new_version(mini_db: Session) -> None:
    src = read_catalog(MINI_CATALOG).matters["20P000000003"]
    edited = src.model_copy(update={"description": "预约后到出入境大厅办理"})
    guide = save_matter(mini_db, edited)
    assert guide.version == 2 and guide.description == "预约后到出入境大厅办理"


def test_a_matter_cannot_prefill_from_the_license_it_issues(mini_db: Session) -> None:
    # food.category sits only on the food permit, which this very matter issues.
    food = {f.element: f for f in get_guide(mini_db, "01E000000001").fields}
    assert food["permit.number"].prefill_source is None


def test_a_renewal_prefills_from_the_license_it_renews(mini_db: Session) -> None:
    src = read_catalog(MINI_CATALOG).matters["01E000000001"]
    renewal = src.model_copy(
        update={
            "code": "01E000000009",
            "name": "食品经营许可延续",
            "materials": [
                *src.materials,
                MaterialIn(
                    key="permit",
                    name="原食品经营许可证",
                    source="license",
                    license_type="food_permit",
                ),
            ],
        }
    )
    fields = {f.element: f for f in save_matter(mini_db, renewal).fields}
    assert fields["food.category"].prefill_source == "电子证照：食品经营许可证"


def test_an_edit_with_unknown_references_is_refused_and_changes_nothing(mini_db: Session) -> None:
    src = read_catalog(MINI_CATALOG).matters["20P000000003"]
    bad = src.model_copy(update={"halls": ["hall-nowhere"], "department": "sh-nobody"})
    with pytest.raises(DomainError) as info:
        save_matter(mini_db, bad)
    assert info.value.status == 422
    assert {e.field for e in info.value.errors} == {"department", "halls.0"}
    assert get_guide(mini_db, "20P000000003").versions == [1]


def test_long_names_fit_on_every_database(mini_db: Session) -> None:
    src = read_catalog(MINI_CATALOG).matters["20P000000003"]
    long_name = "普通护照签发" * 80  # 480 characters: under the catalog's limit of 500
    assert save_matter(mini_db, src.model_copy(update={"name": long_name})).name == long_name
