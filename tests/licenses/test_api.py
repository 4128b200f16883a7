"""The registry over HTTP: issue, read, change, verify online and offline, the status list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.idcode.conftest import World
from tongban.cli import app as cli
from tongban.crypto.sm2 import public_key_from_pem
from tongban.crypto.trustlist import root_fingerprint_of
from tongban.identity.models import Enterprise
from tongban.licenses.service import Registry, expire_due


def registry_of(world: World) -> Registry:
    registry: Registry = world.client.app.state.licenses  # type: ignore[attr-defined]
    return registry


def first_uscc(world: World) -> str:
    with world.session() as session:
        return str(session.scalars(select(Enterprise.uscc).order_by(Enterprise.id)).first())


def issue(world: World, **body: Any) -> Any:
    payload = {
        "type": "business_license",
        "holder_uscc": first_uscc(world),
        "content": {
            "enterprise.registered_capital": "100",
            "enterprise.business_scope": "日用百货销售",
            "enterprise.established_date": "2020-05-01",
        },
        **body,
    }
    return world.client.post("/api/v1/licenses", json=payload, headers=world.auth("issuer1"))


def test_an_issuer_issues_a_signed_license_with_registry_data(world: World) -> None:
    r = issue(world)
    assert r.status_code == 201, r.text
    document = r.json()
    assert r.headers["x-license-status"] == "01"
    assert document["identifier"].startswith("1.2.156.3005.2.")
    assert document["signature"]["alg"] == "SM2-SM3"
    assert document["holder"]["id"] == first_uscc(world)
    assert document["content"]["enterprise.name"] == document["holder"]["name"]  # prefilled
    assert document["content"]["enterprise.registered_capital"] == "100"
    assert document["valid_until"] is None  # a business licence is long-term
    verified = world.client.get(f"/api/v1/licenses/{document['identifier']}/verify").json()
    assert verified["valid"] is True
    assert document["holder"]["name"] not in json.dumps(verified, ensure_ascii=False)


def test_bad_issues_are_refused_with_field_errors(world: World) -> None:
    unknown = issue(world, content={"enterprise.favourite_colour": "红"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "content.enterprise.favourite_colour"
    conflict = issue(world, content={"enterprise.name": "冒名公司"})
    assert conflict.status_code == 422
    assert conflict.json()["errors"][0]["code"] == "conflicts_registry"
    bad_date = issue(world, content={"enterprise.established_date": "yesterday"})
    assert bad_date.status_code == 422
    nobody = issue(world, holder_uscc="91310000MA1FL0000X")
    assert nobody.status_code == 404
    other_department = world.client.post(
        "/api/v1/licenses",
        json={"type": "resident_id_card", "holder_id_number": "310101194803124297"},
        headers=world.auth("issuer1"),
    )
    assert other_department.status_code == 403
    assert other_department.json()["code"] == "not_issuer"
    citizen = world.client.post(
        "/api/v1/licenses", json={"type": "business_license"}, headers=world.auth("citizen1")
    )
    assert citizen.status_code == 403


def test_the_holder_sees_their_licenses_and_others_do_not(world: World) -> None:
    document = issue(world).json()
    identifier = document["identifier"]
    mine = world.client.get("/api/v1/me/licenses", headers=world.auth("enterprise1")).json()
    assert identifier in [d["identifier"] for d in mine["items"]]
    assert mine["statuses"][identifier] == "01"
    read = world.client.get(f"/api/v1/licenses/{identifier}", headers=world.auth("enterprise1"))
    assert read.status_code == 200
    assert read.json() == document
    stranger = world.client.get(f"/api/v1/licenses/{identifier}", headers=world.auth("citizen2"))
    assert stranger.status_code == 404
    issuer = world.client.get(f"/api/v1/licenses/{identifier}", headers=world.auth("issuer1"))
    assert issuer.status_code == 200


def test_a_change_makes_a_new_version_and_supersedes_the_old(world: World) -> None:
    first = issue(world).json()
    r = world.client.post(
        f"/api/v1/licenses/{first['identifier']}/versions",
        json={"content": {"enterprise.registered_capital": "200"}, "reason": "增资"},
        headers=world.auth("issuer1"),
    )
    assert r.status_code == 201, r.text
    second = r.json()
    assert second["version"] == 2
    assert second["identifier"].split(".")[-2] == "002"
    assert second["identifier"].split(".")[-3] == first["identifier"].split(".")[-3]
    assert second["content"]["enterprise.registered_capital"] == "200"
    old = world.client.get(f"/api/v1/licenses/{first['identifier']}/verify").json()
    assert old["reason"] == "license_superseded"
    assert world.client.get(f"/api/v1/licenses/{second['identifier']}/verify").json()["valid"]
    events = world.client.get(
        f"/api/v1/licenses/{second['identifier']}/history", headers=world.auth("enterprise1")
    ).json()
    assert [e["action"] for e in events] == ["issued", "superseded", "updated"]
    again = world.client.post(
        f"/api/v1/licenses/{first['identifier']}/versions",
        json={"content": {}, "reason": "再改"},
        headers=world.auth("issuer1"),
    )
    assert again.status_code == 409


def _status(world: World, identifier: str, action: str) -> Any:
    return world.client.post(
        f"/api/v1/licenses/{identifier}/status",
        json={"action": action, "reason": "监管检查"},
        headers=world.auth("issuer1"),
    )


def test_status_changes_show_in_verification_and_the_status_list(world: World) -> None:
    identifier = issue(world).json()["identifier"]
    verify = f"/api/v1/licenses/{identifier}/verify"
    assert _status(world, identifier, "suspend").json()["status"] == "02"
    assert world.client.get(verify).json()["reason"] == "license_suspended"
    assert _status(world, identifier, "restore").json()["status"] == "01"
    assert world.client.get(verify).json()["valid"] is True
    assert _status(world, identifier, "revoke").json()["status"] == "03"
    assert world.client.get(verify).json()["reason"] == "license_revoked"
    refused = _status(world, identifier, "restore")
    assert refused.status_code == 409
    assert refused.json()["code"] == "status_change_not_allowed"
    entries = world.client.get("/api/v1/licenses/status-list").json()["entries"]
    assert entries[identifier]["status"] == "03"


def test_offline_verification_with_the_trust_and_status_lists(world: World, tmp_path: Path) -> None:
    document = issue(world).json()
    doc_file, trust_file, status_file = (tmp_path / n for n in ("l.json", "t.json", "s.json"))
    doc_file.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    trust_file.write_text(world.client.get("/api/v1/trust-list").text, encoding="utf-8")
    runner = CliRunner()

    root = public_key_from_pem(json.loads(trust_file.read_text("utf-8"))["root"]["public_key_pem"])
    pinned = f"{trust_file}={root_fingerprint_of(root)}"

    def verify(*extra: str) -> tuple[int, Any]:
        result = runner.invoke(cli, ["license", "verify", str(doc_file), "--trust", pinned, *extra])
        return result.exit_code, json.loads(result.output)

    code, out = verify()
    assert code == 0
    assert out["checks"][-1]["detail"] == "not checked: no status list"
    _status(world, document["identifier"], "withdraw")
    status_file.write_text(world.client.get("/api/v1/licenses/status-list").text, "utf-8")
    code, out = verify("--status-list", str(status_file))
    assert code == 1
    assert out["reason"] == "license_revoked"
    altered = {**document, "paper_number": "P-FAKE"}
    doc_file.write_text(json.dumps(altered, ensure_ascii=False), encoding="utf-8")
    code, out = verify()
    assert out["reason"] == "license_signature_invalid"
    tampered_list = json.loads(status_file.read_text("utf-8"))
    tampered_list["entries"] = {}
    status_file.write_text(json.dumps(tampered_list), "utf-8")
    doc_file.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    code, out = verify("--status-list", str(status_file))
    assert code == 1
    assert out["reason"] == "status_list_invalid"


def test_a_presented_document_is_checked_against_the_registry(world: World) -> None:
    document = issue(world).json()
    ok = world.client.post("/api/v1/licenses/verify", json=document).json()
    assert ok["valid"] is True
    changed = {**document, "content": {**document["content"], "enterprise.business_scope": "军火"}}
    assert (
        world.client.post("/api/v1/licenses/verify", json=changed).json()["reason"]
        == "license_signature_invalid"
    )
    assert world.client.post("/api/v1/licenses/verify", json={"x": 1}).json()["reason"] == (
        "license_malformed"
    )


def test_expired_licenses_are_swept(world: World) -> None:
    r = issue(world, valid_from="2020-01-01", valid_until="2021-12-31")
    identifier = r.json()["identifier"]
    assert world.client.get(f"/api/v1/licenses/{identifier}/verify").json()["reason"] == (
        "license_expired"
    )
    with world.session() as session:
        assert expire_due(session) >= 1
        session.commit()
    registry_of(world).signing.forget()  # served lists are up to a minute old; this one is new
    entries = world.client.get("/api/v1/licenses/status-list").json()["entries"]
    assert entries[identifier]["status"] == "05"


def test_licenses_of_a_rotated_key_keep_verifying(world: World) -> None:
    identifier = issue(world).json()["identifier"]
    registry = registry_of(world)
    with world.session() as session:
        registry.signing.rotate(session, "license", "dept:sh-scjgj")
        session.commit()
    newer = issue(world).json()
    assert world.client.get(f"/api/v1/licenses/{identifier}/verify").json()["valid"] is True
    assert world.client.get(f"/api/v1/licenses/{newer['identifier']}/verify").json()["valid"]
    keys = world.client.get("/api/v1/trust-list").json()["keys"]
    statuses = {k["status"] for k in keys if k["owner"] == "dept:sh-scjgj"}
    assert statuses == {"active", "retired"}


def test_unknown_and_malformed_identifiers(world: World) -> None:
    assert world.client.get("/api/v1/licenses/1.2.3/verify").status_code == 422
    missing = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"
    assert world.client.get(f"/api/v1/licenses/{missing}/verify").status_code == 404


def test_the_printed_license_carries_a_qr_that_verifies_offline(world: World) -> None:
    import io

    import pypdfium2
    import zxingcpp

    from tongban.crypto.trustlist import load_document
    from tongban.licenses.document import verify_qr_payload

    document = issue(world).json()
    r = world.client.get(
        f"/api/v1/licenses/{document['identifier']}/pdf", headers=world.auth("enterprise1")
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    page = pypdfium2.PdfDocument(io.BytesIO(r.content))[0]
    assert "营业执照" in page.get_textpage().get_text_range()
    image = page.render(scale=3).to_pil()
    (text,) = [x.text for x in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]
    import time

    trust = load_document(world.client.get("/api/v1/trust-list").json(), now=int(time.time()))
    identifier, key = verify_qr_payload(text, {trust.region_code: trust})
    assert identifier == document["identifier"]
    assert key.owner == "dept:sh-scjgj"
    forged = text[:-6] + ("AAAAAA" if not text.endswith("AAAAAA") else "BBBBBB")
    with pytest.raises(ValueError, match="signature"):
        verify_qr_payload(forged, {trust.region_code: trust})
    stranger = world.client.get(
        f"/api/v1/licenses/{document['identifier']}/pdf", headers=world.auth("citizen2")
    )
    assert stranger.status_code == 404


def test_odd_documents_are_refused_not_crashed_on(world: World) -> None:
    document = issue(world).json()
    not_an_object = {**document, "issuer": "市场监管局"}
    r = world.client.post("/api/v1/licenses/verify", json=not_an_object)
    assert r.status_code == 200
    assert r.json()["reason"] == "license_malformed"
    too_big = {**document, "extra": 2**60}  # not representable in RFC 8785 (past 2^53)
    assert world.client.post("/api/v1/licenses/verify", json=too_big).json()["reason"] == (
        "license_signature_invalid"
    )
