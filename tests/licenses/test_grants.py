"""用证授权: a grant lets a named party use chosen licenses for a purpose, within limits the
holder sets and can withdraw; every use is counted, logged and shown to the holder."""

from __future__ import annotations

import io
from typing import Any

import pypdfium2

from tests.idcode.conftest import World


def my_license(world: World, user: str, type_name: str) -> dict[str, Any]:
    items = world.client.get("/api/v1/me/licenses", headers=world.auth(user)).json()["items"]
    return next(d for d in items if d["type"]["name"] == type_name)


def grant(world: World, user: str = "citizen1", **body: Any) -> Any:
    document = my_license(world, user, "居民身份证")
    payload = {
        "grantee_kind": "account",
        "grantee": "hotel1",
        "licenses": [document["identifier"]],
        "purpose": "酒店入住登记",
        **body,
    }
    return world.client.post("/api/v1/me/grants", json=payload, headers=world.auth(user))


def use(world: World, grant_id: int, identifier: str, user: str = "hotel1") -> Any:
    return world.client.get(
        f"/api/v1/grants/{grant_id}/licenses/{identifier}", headers=world.auth(user)
    )


def test_a_grantee_gets_only_the_granted_fields_marked_for_it(world: World) -> None:
    r = grant(world, fields=["person.name"], max_uses=5)
    assert r.status_code == 201, r.text
    created = r.json()
    identifier = created["licenses"][0]
    got = use(world, created["id"], identifier)
    assert got.status_code == 200, got.text
    copy = got.json()["license"]
    assert set(copy["content"]) == {"person.name"}
    assert "id" not in copy["holder"]
    assert copy["watermark"] == "仅供外滩酒店前台使用"
    assert "signature" not in copy
    assert got.json()["verification"]["valid"] is True
    # Nothing of the ID number anywhere in the answer.
    full = my_license(world, "citizen1", "居民身份证")
    assert full["holder"]["id"] not in got.text


def test_uses_are_counted_to_the_limit_and_shown_to_the_holder(world: World) -> None:
    created = grant(world, max_uses=2).json()
    identifier = created["licenses"][0]
    assert use(world, created["id"], identifier).status_code == 200
    assert use(world, created["id"], identifier).status_code == 200
    third = use(world, created["id"], identifier)
    assert third.status_code == 409
    assert third.json()["code"] == "grant_used_up"
    mine = {
        g["id"]: g
        for g in world.client.get("/api/v1/me/grants", headers=world.auth("citizen1")).json()
    }
    assert mine[created["id"]]["uses"] == 2
    assert [u["by"] for u in mine[created["id"]]["used"]] == ["外滩酒店前台", "外滩酒店前台"]
    usage = world.client.get("/api/v1/me/data-usage", headers=world.auth("citizen1")).json()
    assert any(u["action"] == "license.used" and u["reason"] == "酒店入住登记" for u in usage)


def test_a_withdrawn_or_expired_grant_stops_working(world: World) -> None:
    created = grant(world).json()
    identifier = created["licenses"][0]
    gone = world.client.delete(f"/api/v1/me/grants/{created['id']}", headers=world.auth("citizen1"))
    assert gone.json()["withdrawn"] is True
    refused = use(world, created["id"], identifier)
    assert refused.status_code == 410
    assert refused.json()["code"] == "grant_withdrawn"
    later = grant(world).json()
    from sqlalchemy import update

    from tongban.db import utcnow
    from tongban.licenses.models import LicenseGrant

    with world.session() as session:
        session.execute(
            update(LicenseGrant).where(LicenseGrant.id == later["id"]).values(expires_at=utcnow())
        )
        session.commit()
    assert use(world, later["id"], identifier).json()["code"] == "grant_expired"


def test_only_the_grantee_may_use_it_and_only_for_granted_licenses(world: World) -> None:
    created = grant(world).json()
    identifier = created["licenses"][0]
    assert use(world, created["id"], identifier, user="hospital1").status_code == 404
    other = my_license(world, "citizen1", "居民户口簿")["identifier"]
    assert use(world, created["id"], other).status_code == 404


def test_nobody_grants_what_they_do_not_hold(world: World) -> None:
    theirs = my_license(world, "citizen2", "居民身份证")["identifier"]
    r = world.client.post(
        "/api/v1/me/grants",
        json={
            "grantee_kind": "account",
            "grantee": "hotel1",
            "licenses": [theirs],
            "purpose": "冒用",
        },
        headers=world.auth("citizen1"),
    )
    assert r.status_code == 404
    bad_field = grant(world, fields=["person.salary"])
    assert bad_field.status_code == 422
    nobody = grant(world, grantee="no-such-user")
    assert nobody.status_code == 422
    assert nobody.json()["errors"][0]["field"] == "grantee"


def test_an_enterprise_grants_a_department_through_its_agent(world: World) -> None:
    items = world.client.get("/api/v1/me/licenses", headers=world.auth("enterprise1")).json()[
        "items"
    ]
    business = next(d for d in items if d["type"]["key"] == "business_license")
    r = world.client.post(
        "/api/v1/me/grants",
        json={
            "grantee_kind": "department",
            "grantee": "sh-scjgj",
            "licenses": [business["identifier"]],
            "purpose": "食品经营许可审查",
            "holder_uscc": business["holder"]["id"],
        },
        headers=world.auth("enterprise1"),
    )
    assert r.status_code == 201, r.text
    used = use(world, r.json()["id"], business["identifier"], user="reviewer1")
    assert used.status_code == 200
    pdf = world.client.get(
        f"/api/v1/grants/{r.json()['id']}/licenses/{business['identifier']}/pdf",
        headers=world.auth("reviewer1"),
    )
    text = pypdfium2.PdfDocument(io.BytesIO(pdf.content))[0].get_textpage().get_text_range()
    assert "仅供上海市市场监督管理局使用" in text


def test_a_grant_follows_the_license_to_its_newer_version(world: World) -> None:
    items = world.client.get("/api/v1/me/licenses", headers=world.auth("enterprise1")).json()[
        "items"
    ]
    food = next(d for d in items if d["type"]["key"] == "food_business_license")
    created = world.client.post(
        "/api/v1/me/grants",
        json={
            "grantee_kind": "account",
            "grantee": "credit1",
            "licenses": [food["identifier"]],
            "purpose": "贷款审查",
            "holder_uscc": food["holder"]["id"],
        },
        headers=world.auth("enterprise1"),
    ).json()
    newer = world.client.post(
        f"/api/v1/licenses/{food['identifier']}/versions",
        json={"content": {"food.business_items": "预包装食品销售；散装食品销售"}, "reason": "增项"},
        headers=world.auth("issuer1"),
    ).json()
    got = use(world, created["id"], newer["identifier"], user="credit1")
    assert got.status_code == 200, got.text
    assert got.json()["license"]["version"] == 2
