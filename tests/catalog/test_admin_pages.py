"""An administrator edits a guide in the portal: a change publishes a new version (the old one
still reads as it was), a bad value is shown by its field and changes nothing, and only
administrators may edit."""

from __future__ import annotations

import re

from tests.cases.conftest import full
from tests.cases.test_pages import browser
from tests.idcode.conftest import World
from tests.identity.test_pages import HTML, csrf_of
from tongban.audit.models import AuditEntry

__all__ = ["full"]
CODE = "20P010000001"
EDIT = f"/admin/matters/{CODE}/edit"


def _form(page_html: str, **changes: str) -> dict[str, str]:
    def value(name: str) -> str:
        found = re.search(rf'name="{name}" value="([^"]*)"', page_html)
        return found.group(1) if found else ""

    conditions = re.search(r'name="acceptance_conditions"[^>]*>([^<]*)</textarea>', page_html)
    base = {
        "csrf_token": csrf_of(page_html),
        "name": value("name"),
        "name_en": value("name_en"),
        "result": value("result"),
        "promised_days": value("promised_days"),
        "acceptance_conditions": conditions.group(1) if conditions else "",
        "description": "",
    }
    return base | changes


def _version(world: World) -> int:
    return int(world.client.get(f"/api/v1/matters/{CODE}").json()["version"])


def test_an_edit_publishes_a_new_version_and_the_old_one_stays(full: World) -> None:
    admin = browser(full, "admin")
    page = admin.get(EDIT, headers=HTML)
    assert page.status_code == 200 and "编辑办事指南" in page.text
    before = _version(full)
    old = full.client.get(f"/api/v1/matters/{CODE}").json()
    form = _form(page.text, description="2027 年起可在随申办全程网办。", promised_days="15")
    saved = admin.post(EDIT, data=form, headers=HTML, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith(f"saved={before + 1}")
    now = full.client.get(f"/api/v1/matters/{CODE}").json()
    assert now["version"] == before + 1 and now["promised_days"] == 15
    assert now["description"] == "2027 年起可在随申办全程网办。"
    older = full.client.get(f"/api/v1/matters/{CODE}?version={before}").json()
    # The published version reads exactly as it was (only the list of versions grew).
    assert {k: v for k, v in older.items() if k != "versions"} == {
        k: v for k, v in old.items() if k != "versions"
    }
    with full.session() as session:
        entry = session.query(AuditEntry).filter_by(action="catalog.guide_edited").all()
        assert entry and entry[-1].subject_id == CODE
    again = admin.post(EDIT, data=form, headers=HTML, follow_redirects=False)
    assert again.headers["location"].endswith("saved=unchanged") and _version(full) == before + 1


def test_a_bad_value_is_named_by_its_field_and_changes_nothing(full: World) -> None:
    admin = browser(full, "admin")
    page = admin.get(EDIT, headers=HTML)
    before = full.client.get(f"/api/v1/matters/{CODE}").json()
    for bad in ({"promised_days": "abc"}, {"promised_days": "400"}, {"name": ""}):
        shown = admin.post(EDIT, data=_form(page.text, **bad), headers=HTML)
        assert shown.status_code == 422 and 'class="error-summary"' in shown.text
        field = next(iter(bad))
        assert f'id="{field}" name="{field}"' in shown.text
        assert 'aria-invalid="true"' in shown.text
    assert full.client.get(f"/api/v1/matters/{CODE}").json() == before


def test_only_an_administrator_edits_and_sees_the_link(full: World) -> None:
    citizen = browser(full, "citizen1")
    assert citizen.get(EDIT, headers=HTML).status_code == 403
    assert "/edit" not in citizen.get(f"/matters/{CODE}", headers=HTML).text
    assert f'href="{EDIT}"' in browser(full, "admin").get(f"/matters/{CODE}", headers=HTML).text
    refused = citizen.post(EDIT, data={"csrf_token": "x", "name": "改名"}, headers=HTML)
    assert refused.status_code in (403, 400)
