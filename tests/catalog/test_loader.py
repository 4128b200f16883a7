"""The catalog loader: good folders load; each kind of bad file is named with its line and
loads nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import MINI_CATALOG
from tongban.catalog.loader import CatalogInvalid, read_catalog
from tongban.catalog.models import Matter
from tongban.catalog.service import load_catalog_dir


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    root = tmp_path / "catalog"
    shutil.copytree(MINI_CATALOG, root)
    return root


def problems_of(root: Path) -> list[str]:
    with pytest.raises(CatalogInvalid) as info:
        read_catalog(root)
    return [str(p) for p in info.value.problems]


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text {old!r} not found in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(needle)


def test_the_mini_catalog_reads_with_every_kind_of_entry() -> None:
    src = read_catalog(MINI_CATALOG)
    assert set(src.matters) == {"01E000000001", "07E000000002", "07P000000001", "20P000000003"}
    # The file's department is the default; a matter may name another one.
    assert src.matters["01E000000001"].department == "sh-scjgj"
    assert src.matters["07E000000002"].department == "pd-scjgj"
    assert len(src.halls) == 5 and len(src.streets) == 2


def test_the_shipped_catalog_is_valid_and_large_enough() -> None:
    src = read_catalog()
    assert len(src.matters) >= 80
    own = {d.key for d in src.departments.values() if d.level.value != "external"}
    used = {m.department for m in src.matters.values()}
    assert len(used & own) >= 15
    assert len(src.districts) == 16
    centers = [h for h in src.halls.values() if h.kind.value == "district_center"]
    assert {h.district for h in centers} == set(src.districts)
    street_districts = {h.district for h in src.halls.values() if h.kind.value == "street_center"}
    assert len(street_districts) >= 4


def test_invalid_yaml_is_reported_at_its_line(mini: Path) -> None:
    path = mini / "matters" / "sh-gaj.yaml"
    replace_in(path, "    keywords: [上户口, 落户]", "    keywords: [上户口, 落户")
    [problem] = problems_of(mini)
    assert problem.startswith("matters/sh-gaj.yaml:")
    assert "not valid YAML" in problem


def test_an_unknown_key_is_a_typo_at_its_line(mini: Path) -> None:
    path = mini / "matters" / "sh-gaj.yaml"
    replace_in(
        path, "    trips_reason: 需现场采集人像", "    trips_reason: 需现场采集人像\n    trip: 2"
    )
    [problem] = problems_of(mini)
    assert (
        problem
        == f"matters/sh-gaj.yaml:{line_of(path, 'trip: 2')}: matters.0.trip: unknown key (a typo?)"
    )


def test_a_wrong_value_names_the_field_and_line(mini: Path) -> None:
    path = mini / "matters" / "sh-scjgj.yaml"
    replace_in(path, '    kind: "01"', '    kind: "99"')
    [problem] = problems_of(mini)
    line = line_of(path, 'kind: "99"')
    assert problem.startswith(f"matters/sh-scjgj.yaml:{line}: matters.0.kind:")


def test_a_bad_credit_code_is_rejected(mini: Path) -> None:
    path = mini / "departments.yaml"
    replace_in(path, "uscc: 11310000T00000003L", "uscc: 11310000T00000003M")
    [problem] = problems_of(mini)
    assert problem.startswith("departments.yaml:2: departments.0.uscc")
    assert "GB 32100" in problem


def test_trips_need_a_reason(mini: Path) -> None:
    path = mini / "matters" / "sh-gaj.yaml"
    replace_in(path, "    trips_reason: 需现场采集人像\n", "")
    [problem] = problems_of(mini)
    assert "trips above 0 need trips_reason" in problem
    line = line_of(path, 'code: "07P000000001"')
    assert problem.startswith(f"matters/sh-gaj.yaml:{line}:")


def test_the_promise_cannot_exceed_the_law(mini: Path) -> None:
    replace_in(mini / "matters" / "sh-scjgj.yaml", "{working_days: 5}", "{working_days: 25}")
    [problem] = problems_of(mini)
    assert "promised limit cannot exceed the statutory limit" in problem


def test_a_material_from_a_license_must_name_the_type(mini: Path) -> None:
    replace_in(
        mini / "matters" / "sh-gaj.yaml",
        "source: license, license_type: resident_id_card}",
        "source: license}",
    )
    [problem] = problems_of(mini)
    assert "names its license_type" in problem


def test_unknown_references_are_reported_at_the_referring_entry(mini: Path) -> None:
    path = mini / "matters" / "sh-gaj.yaml"
    replace_in(path, "department: ext-other-police}", "department: sh-nobody}")
    replace_in(path, "{element: person.id_number}", "{element: person.shoe_size}")
    replace_in(
        mini / "matters" / "sh-scjgj.yaml", "issues_license: food_permit", "issues_license: nope"
    )
    problems = problems_of(mini)
    # Each problem is reported at the line of the reference itself, inside the matter.
    field_line = line_of(path, "person.shoe_size")
    material_line = line_of(path, "sh-nobody")
    at = "matters/sh-gaj.yaml:{}: matter '07P000000001' "
    assert (
        at.format(field_line) + "fields.1.element: unknown data element 'person.shoe_size'"
        in problems
    )
    assert (
        at.format(material_line) + "materials.1.department: unknown department 'sh-nobody'"
        in problems
    )
    assert any("issues_license: unknown license type 'nope'" in p for p in problems)
    assert len(problems) == 3


def test_duplicates_across_files_name_the_first_place(mini: Path) -> None:
    extra = mini / "matters" / "again.yaml"
    text = (mini / "matters" / "sh-gaj.yaml").read_text(encoding="utf-8")
    extra.write_text(text, encoding="utf-8")
    problems = problems_of(mini)
    assert len(problems) == 2
    assert all("duplicate matter" in p and "first at matters/" in p for p in problems)


def test_a_matter_cannot_belong_to_an_outside_body(mini: Path) -> None:
    replace_in(
        mini / "matters" / "sh-gaj.yaml", "department: sh-gaj\n", "department: ext-other-police\n"
    )
    problems = problems_of(mini)
    assert problems and all("is not a body of this city" in p for p in problems)


def test_general_halls_are_computed_not_listed(mini: Path) -> None:
    replace_in(mini / "matters" / "sh-gaj.yaml", "halls: [hall-crj]", "halls: [hall-310101002]")
    [problem] = problems_of(mini)
    assert "is not specialized" in problem


def test_files_that_are_not_catalog_files(mini: Path) -> None:
    (mini / "list.yaml").write_text("- a\n- b\n", encoding="utf-8")
    (mini / "other.yaml").write_text("colours: [red]\n", encoding="utf-8")
    (mini / "latin1.yaml").write_bytes("matters: [caf\xe9]".encode("latin-1"))
    problems = problems_of(mini)
    assert "list.yaml:1: expected a mapping at the top of the file" in problems
    assert any(p.startswith("other.yaml:1: expected one of the top-level keys") for p in problems)
    assert "latin1.yaml:1: not UTF-8 text" in problems


def test_an_empty_or_missing_folder_is_an_error(tmp_path: Path) -> None:
    assert problems_of(tmp_path) == [f"{tmp_path}:1: the catalog holds no matters"]
    assert problems_of(tmp_path / "nope") == [f"{tmp_path / 'nope'}:1: no such catalog folder"]


def test_all_problems_are_reported_at_once(mini: Path) -> None:
    replace_in(mini / "departments.yaml", "uscc: 11310000T00000003L", "uscc: bad")
    replace_in(mini / "matters" / "sh-scjgj.yaml", '    kind: "01"', '    kind: "99"')
    assert len(problems_of(mini)) >= 2


def test_a_bad_catalog_loads_nothing(mini: Path, empty_db: Session) -> None:
    replace_in(mini / "matters" / "sh-gaj.yaml", '    kind: "20"', '    kind: "21"')
    with pytest.raises(CatalogInvalid):
        load_catalog_dir(empty_db, mini)
    assert empty_db.scalar(select(func.count()).select_from(Matter)) == 0


def test_a_repeated_key_is_an_error_not_a_silent_overwrite(mini: Path) -> None:
    path = mini / "matters" / "sh-gaj.yaml"
    replace_in(path, "    result: 护照\n", "    result: 护照\n    materials: []\n    steps: []\n")
    problems = problems_of(mini)
    assert f"matters/sh-gaj.yaml:{line_of(path, 'steps: []')}: duplicate key 'steps'" in problems


def test_yml_files_are_read_too(mini: Path) -> None:
    (mini / "matters" / "sh-gaj.yaml").rename(mini / "matters" / "sh-gaj.yml")
    assert "07P000000001" in read_catalog(mini).matters


def test_approval_elements_may_only_name_the_matters_own_fields_and_materials(
    mini: Path,
) -> None:
    path = mini / "matters" / "sh-gaj.yaml"
    rules = (
        "    approval_elements:\n"
        "      - {id: t.id.format, check: format, field: person.id_number, message: 号码有误}\n"
        "      - {id: t.shoe, check: required, field: person.shoe_size, message: 请填写}\n"
        "      - {id: t.paper, check: material, material: passport, message: 请上传}\n"
        "      - {id: t.licence, check: license_valid, license_type: nope, message: 须持证}\n"
        "    result: 户口簿"
    )
    replace_in(path, "    result: 户口簿", rules)
    problems = problems_of(mini)
    assert len(problems) == 3
    assert any("'t.shoe' names 'person.shoe_size', not a field of this form" in p for p in problems)
    assert any("'t.paper' names 'passport', not a material of it" in p for p in problems)
    assert any("unknown license type 'nope'" in p for p in problems)


def test_a_rule_id_is_unique_within_its_matter(mini: Path) -> None:
    path = mini / "matters" / "sh-gaj.yaml"
    rule = "      - {id: t.same, check: required, field: person.name, message: 请填写}\n"
    replace_in(
        path, "    result: 户口簿", "    approval_elements:\n" + rule * 2 + "    result: 户口簿"
    )
    [problem] = problems_of(mini)
    assert "approval element id" in problem
