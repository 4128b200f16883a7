"""互认 and data sharing: a Jiangsu license fetched under its holder's consent counts in
Shanghai (免提交), is verified against Jiangsu's pinned trust list, and every disclosure and
use is logged on both sides; a withdrawn consent is refused by Jiangsu itself."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.federation.conftest import JS, Regions, consent_to_jiangsu, fetch_with
from tongban.audit.models import AuditEntry
from tongban.errors import DomainError
from tongban.federation.demo import FAMILY
from tongban.identity.service import find_person_by_id_number
from tongban.licenses import recognized
from tongban.licenses.models import License, PeerLicense

CITIZEN3 = FAMILY[0]
BIRTH_REGISTRATION = "20P006000001"  # 生育登记: ID cards, household register, marriage cert


def _actions_at(node: Any, id_number: str) -> list[str]:
    with node.session() as session:
        person = find_person_by_id_number(session, node.fed.registry.keyring, id_number)
        assert person is not None
        return list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.data_subject == person.id)
                .order_by(AuditEntry.seq)
            )
        )


def test_fetched_licenses_count_here_and_the_disclosure_is_logged_in_both(
    regions: Regions,
) -> None:
    before_js = _actions_at(regions.js, CITIZEN3.id_number).count("license.shared_with_region")
    r = fetch_with(regions, consent_to_jiangsu(regions, "办理生育登记"))
    assert r.status_code == 200, r.text
    kept = {lic["counts_as"]: lic for lic in r.json()["licenses"]}
    # Whatever else Jiangsu holds for them by now (a certificate an earlier test had issued).
    assert {"resident_id_card", "household_register", "marriage_certificate"} <= set(kept)
    assert all(lic["region"] == JS and lic["usable"] for lic in kept.values())
    form = regions.sh.client.get(
        f"/api/v1/matters/{BIRTH_REGISTRATION}/form", headers=regions.sh.auth("citizen3")
    ).json()
    by_key = {m["key"]: m for m in form["materials"]}
    for key in ("id_cards", "household_register", "marriage_certificate"):
        assert by_key[key]["resolution"] == "license"
        assert by_key[key]["reason"] == "found_peer"
        assert "江苏省" in by_key[key]["detail"]
    after_js = _actions_at(regions.js, CITIZEN3.id_number).count("license.shared_with_region")
    assert after_js == before_js + len(r.json()["licenses"])  # one entry per disclosure
    assert "federation.fetched" in _actions_at(regions.sh, CITIZEN3.id_number)


def test_a_withdrawn_consent_is_refused_by_the_region_that_holds_the_data(
    regions: Regions,
) -> None:
    consent = consent_to_jiangsu(regions, "验证撤回")
    assert fetch_with(regions, consent).status_code == 200
    r = regions.sh.client.delete(
        f"/api/v1/me/peer-consents/{consent}", headers=regions.sh.auth("citizen3")
    )
    assert r.status_code == 200
    assert r.json()["withdrawn_at"] is not None
    regions.pump()  # the withdrawal reaches Jiangsu
    # Shanghai refuses to use it, and Jiangsu would too: ask it directly, bypassing the check.
    assert fetch_with(regions, consent).json()["code"] == "consent_inactive"
    from tongban.federation import service
    from tongban.federation.schemas import ConsentIn

    with regions.sh.session() as session:
        body = {
            "consent": ConsentIn.model_validate(
                {
                    "id": consent,
                    "person": {"name": CITIZEN3.name, "id_number": CITIZEN3.id_number},
                    "purpose": "验证撤回",
                    "given_at": "2026-12-01T00:00:00+00:00",
                    "expires_at": "2027-12-01T00:00:00+00:00",
                }
            ).model_dump(mode="json"),
            "types": [],
            "record": False,
        }
        with pytest.raises(DomainError) as refused:
            service.request(session, regions.sh.fed, JS, "data.lookup", body)
    assert refused.value.code == "consent_withdrawn"


def test_a_license_of_the_peer_verifies_here_by_identifier_naming_its_region(
    regions: Regions,
) -> None:
    with regions.js.session() as session:
        identifier = session.scalars(select(License.identifier).order_by(License.id)).first()
    assert identifier is not None
    r = regions.sh.client.get(f"/api/v1/licenses/{identifier}/verify")
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["valid"] is True
    assert answer["region"] == JS
    assert answer["region_name"] == "江苏省"
    assert answer["verified_by"] == "issuing_region"
    assert "holder" not in str(answer)  # no personal data in a public answer


def test_a_presented_peer_document_verifies_against_the_peers_trust_list(
    regions: Regions,
) -> None:
    fetch_with(regions, consent_to_jiangsu(regions, "办理生育登记"))
    with regions.sh.session() as session:
        row = session.scalars(select(PeerLicense).where(PeerLicense.region_code == JS)).first()
        assert row is not None
        document = recognized.document_of(session, regions.sh.fed.registry, row)
    r = regions.sh.client.post("/api/v1/licenses/verify", json=document)
    assert r.status_code == 200
    assert r.json()["valid"] is True
    assert r.json()["region"] == JS
    assert r.json()["verified_by"] == "trust_list"
    document["content"] = {**document["content"], "person.ethnicity": "满族"}
    tampered = regions.sh.client.post("/api/v1/licenses/verify", json=document).json()
    assert tampered["valid"] is False
    assert tampered["reason"] == "license_signature_invalid"
