"""Bundles in the catalog YAML: checked on load, each problem at its line; stored with a
version that moves when the definition changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tongban.catalog.loader import SHIPPED_CATALOG, CatalogInvalid, read_catalog

BUNDLES = "bundles/one-things.yaml"


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("catalog") / "catalog"
    shutil.copytree(SHIPPED_CATALOG, root)
    return root


@pytest.fixture
def catalog(shipped: Path, tmp_path: Path) -> Path:
    root = tmp_path / "catalog"
    shutil.copytree(shipped, root)
    return root


def problems_after(root: Path, old: str, new: str) -> list[str]:
    path = root / BUNDLES
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(CatalogInvalid) as exc:
        read_catalog(root)
    return [str(p) for p in exc.value.problems]


def test_the_shipped_bundles_read() -> None:
    bundles = read_catalog().bundles
    assert {"birth", "company-start", "retirement", "residence-permit"} <= set(bundles)
    assert len(bundles) >= 5
    assert len(bundles["birth"].matters) == 9


def test_an_unknown_matter_is_named_at_its_line(catalog: Path) -> None:
    problems = problems_after(catalog, '- matter: "20P006000001"', '- matter: "20P006999999"')
    assert len(problems) == 1
    assert "bundle 'birth' matters.0.matter: unknown matter '20P006999999'" in problems[0]
    assert problems[0].startswith(f"{BUNDLES}:")


def test_a_need_that_carries_nothing_is_refused(catalog: Path) -> None:
    # 生育登记 issues nothing 接种证 takes, provides nothing it asks, is not its record.
    problems = problems_after(
        catalog,
        'needs: ["20P006000002"]\n      - matter: "20P006000004"',
        'needs: ["20P006000001"]\n      - matter: "20P006000004"',
    )
    assert any("nothing of 20P006000001's result is used by 20P006000003" in p for p in problems)


def test_a_cycle_is_refused(catalog: Path) -> None:
    problems = problems_after(
        catalog,
        '- matter: "07E006000004"  # 清税申报',
        '- matter: "07E006000004"  # 清税申报\n        needs: ["01E001000003"]',
    )
    assert any("cycle" in p for p in problems)


def test_a_condition_must_name_an_option(catalog: Path) -> None:
    problems = problems_after(catalog, 'when: [{seal: "yes"}]', 'when: [{seal: "perhaps"}]')
    assert any("seal has no option 'perhaps'" in p for p in problems)


def test_a_condition_must_name_a_question(catalog: Path) -> None:
    problems = problems_after(catalog, 'when: [{employees: "yes"}]', 'when: [{staff: "yes"}]')
    assert any("unknown question 'staff'" in p for p in problems)


def test_a_matter_must_be_for_the_bundles_audience(catalog: Path) -> None:
    problems = problems_after(catalog, '- matter: "05P004000008"', '- matter: "07E003000001"')
    assert any("matter 07E003000001 is not for person" in p for p in problems)


def test_a_bundle_code_cannot_take_a_page_name(catalog: Path) -> None:
    problems = problems_after(catalog, "code: unemployment", "code: metrics")
    assert any("reserved" in p for p in problems)
