"""一业一证: the questionnaire picks the permits, one form and one material list merge them,
and the metrics' arithmetic can be checked permit by permit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.idcode.conftest import World
from tests.identity.test_pages import HTML
from tongban.catalog.loader import SHIPPED_CATALOG, CatalogInvalid, read_catalog

STORE = "/api/v1/industries/convenience-store"
FOOD_LICENCE, PACKAGED, DRUGS, DEVICES, TOBACCO = (
    "01E001000004",
    "07E001000005",
    "01E010000001",
    "07E010000003",
    "01E011000001",
)


def test_ten_industries_each_with_a_lead() -> None:
    industries = read_catalog().industries
    assert len(industries) >= 10
    names = {i.name for i in industries.values()}
    assert {
        "便利店",
        "餐饮店",
        "宾馆",
        "健身房",
        "书店",
        "电影院",
        "药店",
        "游泳馆",
        "网店",
    } <= names
    assert all(i.lead_department for i in industries.values())


def test_what_people_type_finds_the_industry(full: World) -> None:
    found = full.client.get("/api/v1/industries", params={"q": "开便利店"}).json()["items"]
    assert [i["code"] for i in found] == ["convenience-store"]
    assert (
        full.client.get("/api/v1/industries", params={"q": "开书店"}).json()["items"][0]["code"]
        == "bookstore"
    )
    assert full.client.get("/api/v1/industries", params={"q": "造火箭"}).json()["items"] == []


def test_the_answers_pick_the_permits(full: World) -> None:
    r = full.client.get(
        f"{STORE}/checklist",
        params={"food": "packaged", "drugs": "no", "devices": "no", "tobacco": "yes"},
    )
    assert r.status_code == 200, r.text
    c = r.json()
    assert [p["code"] for p in c["permits"]] == [PACKAGED, TOBACCO]
    assert set(c["not_needed"]) == {FOOD_LICENCE, DRUGS, DEVICES}
    assert c["days"] == 5 and c["days_from"] == "application"  # the district's 一业一证 promise
    tobacco = next(p for p in c["permits"] if p["code"] == TOBACCO)
    assert "卷烟" in tobacco["scope"]


def test_one_form_and_one_material_list(full: World) -> None:
    everything = {"food": "made", "drugs": "yes", "devices": "yes", "tobacco": "yes"}
    c = full.client.get(f"{STORE}/checklist", params=everything).json()
    keys = [f["key"] for f in c["fields"]]
    assert len(keys) == len(set(keys))
    identities = [m["identity"] for m in c["materials"]]
    assert len(identities) == len(set(identities))
    assert identities.count("license:business_license") == 1  # asked by all four permits
    assert identities.count("applicant:application") == 1  # four application forms, one form
    assert len(c["permits"]) == 4


def test_metrics_arithmetic_per_permit(full: World) -> None:
    everything = {"food": "made", "drugs": "yes", "devices": "yes", "tobacco": "yes"}
    m = full.client.get(f"{STORE}/metrics", params=everything).json()
    rows = m["per_permit"]
    assert m["before"]["permits"] == m["before"]["forms"] == m["before"]["applications"] == 4
    assert m["before"]["materials"] == sum(r["materials"] for r in rows)
    assert m["before"]["days"] == sum(r["days"] for r in rows)
    assert m["after"]["permits"] == m["after"]["forms"] == m["after"]["applications"] == 1
    assert m["after"]["days"] == 5
    assert m["reduction"]["forms"] == 0.75
    assert m["reduction"]["days"] == round(1 - 5 / m["before"]["days"], 4)
    assert m["reported"]["before"]["materials"] == 53  # the published figure, beside ours


def test_without_a_one_licence_matter_the_slowest_permit_decides(full: World) -> None:
    m = full.client.get(
        "/api/v1/industries/bookstore/metrics", params={"cafe": "yes", "prepaid": "yes"}
    ).json()
    assert m["days_from"] == "parallel"
    assert m["after"]["days"] == max(r["days"] for r in m["per_permit"])
    assert m["reported"] is None


def test_bad_answers_and_unknown_industries(full: World) -> None:
    bad = full.client.get(f"{STORE}/checklist", params={"food": "rocks"})
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"answers.food", "answers.drugs"} <= fields
    assert full.client.get("/api/v1/industries/nope/metrics").status_code == 404


def test_the_pages_ask_then_tell(full: World) -> None:
    found = full.client.get("/industries", params={"q": "开健身房"}, headers=HTML)
    assert found.status_code == 200 and "健身房" in found.text
    page = full.client.get(
        "/industries/convenience-store",
        params={"food": "made", "drugs": "no", "devices": "no", "tobacco": "yes"},
        headers=HTML,
    )
    assert page.status_code == 200
    assert "您需要的 <strong>2</strong> 项许可" in page.text
    assert "53 → 10" in page.text  # the published figures shown beside ours


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    root = tmp_path / "catalog"
    shutil.copytree(SHIPPED_CATALOG, root)
    return root


def problems_after(root: Path, old: str, new: str) -> list[str]:
    path = root / "industries" / "pudong.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(CatalogInvalid) as exc:
        read_catalog(root)
    return [str(p) for p in exc.value.problems]


def test_a_permit_must_be_an_enterprise_matter_of_the_catalog(catalog: Path) -> None:
    problems = problems_after(catalog, '- matter: "01E011000001"', '- matter: "20P006000001"')
    assert any("matter 20P006000001 is not for enterprises" in p for p in problems)


def test_the_one_licence_matter_must_issue_the_industry_licence(catalog: Path) -> None:
    problems = problems_after(catalog, 'application: "01E101000001"', 'application: "01E001000004"')
    assert any("does not issue pd_industry_license_market" in p for p in problems)
