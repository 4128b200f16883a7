"""Changing, renewing and giving up a comprehensive license safely: one amendment at a time,
a license that ended meanwhile ends the amendment instead of jamming its review, retries,
reminders per version, an agent's scope."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.idcode.conftest import World
from tests.industry.test_applying import (
    AGENT,
    DRUGS,
    SHOP,
    approve_all,
    submitted,
    uscc_of,
)
from tests.licenses.test_api import registry_of
from tests.onething.helpers import approve, fill, read, upload_all
from tongban.identity.models import Account, EnterpriseAgent
from tongban.industry.service import remind_renewals, renewals_in_progress
from tongban.licenses import service as licenses
from tongban.licenses.models import License
from tongban.notify.models import Message

pytestmark = pytest.mark.usefixtures("a_known_day")


def post(world: World, body: dict[str, Any], key: str | None = None) -> Any:
    headers = world.auth(AGENT) | ({"Idempotency-Key": key} if key else {})
    return world.client.post(
        "/api/v1/industry-cases",
        json={"industry": "convenience-store", "uscc": uscc_of(world), **body},
        headers=headers,
    )


def draft(world: World, body: dict[str, Any]) -> dict[str, Any]:
    r = post(world, body)
    assert r.status_code == 201, r.text
    return upload_all(world, fill(world, r.json(), AGENT), AGENT)


def hand_in(world: World, bc: dict[str, Any]) -> Any:
    return world.client.post(f"/api/v1/bundle-cases/{bc['id']}/submit", headers=world.auth(AGENT))


def cancel(world: World, identifier: str) -> Any:
    return world.client.post(
        "/api/v1/industry-licenses/cancel",
        json={
            "industry": "convenience-store",
            "uscc": uscc_of(world),
            "identifier": identifier,
            "reason": "门店停业",
        },
        headers=world.auth(AGENT),
    )


def licensed(world: World) -> str:
    return str(approve_all(world, submitted(world, SHOP))["license"])


ADD_DRUGS = {"answers": {**SHOP, "drugs": "yes"}}


def test_one_change_or_renewal_at_a_time(full: World) -> None:
    identifier = licensed(full)
    change = draft(full, {**ADD_DRUGS, "amends": identifier})
    renewal = draft(full, {"amends": identifier, "renew": True})  # drafts may coexist
    assert hand_in(full, change).status_code == 200
    again = post(full, {**ADD_DRUGS, "amends": identifier})
    assert again.status_code == 409 and again.json()["code"] == "change_in_progress"
    late = hand_in(full, renewal)
    assert late.status_code == 409 and late.json()["code"] == "change_in_progress"
    refused = cancel(full, identifier)
    assert refused.status_code == 409 and refused.json()["code"] == "change_in_progress"
    done = approve_all(full, read(full, change["id"], AGENT))
    assert done["status"] == "completed" and done["license"] != identifier
    stale = hand_in(full, renewal)  # its license has a new version now
    assert stale.status_code == 409 and stale.json()["code"] == "license_not_current"
    assert read(full, renewal["id"], AGENT)["status"] == "draft"
    assert cancel(full, done["license"]).json()["status"] == "04"


def test_a_license_revoked_during_a_change_ends_the_change(full: World) -> None:
    identifier = licensed(full)
    change = draft(full, {**ADD_DRUGS, "amends": identifier})
    assert hand_in(full, change).status_code == 200
    with full.session() as session:
        licenses.change_status(
            session, registry_of(full), licenses.SYSTEM_ACTOR, identifier, "revoke", "违法经营"
        )
        session.commit()
    task = read(full, change["id"], AGENT)["tasks"][0]
    r = approve(full, task["case"], DRUGS)
    assert r.status_code == 200, r.text  # the reviewer's decision is never jammed
    after = full.client.get(f"/api/v1/bundle-cases/{change['id']}", headers=full.auth(AGENT))
    bc = after.json()
    assert bc["status"] == "ended" and bc["license"] is None
    assert "许可证已不再有效（撤销）" in bc["history"][-1]["reason"]


def test_a_retried_change_returns_the_first_even_once_decided(full: World) -> None:
    identifier = licensed(full)
    body = {**ADD_DRUGS, "amends": identifier}
    first = post(full, body, key="change-1")
    assert first.status_code == 201
    bc = upload_all(full, fill(full, first.json(), AGENT), AGENT)
    assert hand_in(full, bc).status_code == 200
    approve_all(full, read(full, bc["id"], AGENT))
    retry = post(full, body, key="change-1")
    assert retry.status_code == 201 and retry.json()["id"] == bc["id"]
    other = post(full, {"amends": identifier, "renew": True}, key="change-1")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


def told(world: World, identifier: str) -> int:
    """How often the holder heard that this version of the license ends soon."""
    with world.session() as session:
        row = session.scalars(select(License).where(License.identifier == identifier)).one()
        topic = f"renew:{row.id}"
        return len(
            session.scalars(
                select(Message.id).where(Message.topic == topic, Message.channel == "inbox")
            ).all()
        )


def test_reminders_once_per_version_and_not_while_renewing(full: World) -> None:
    first = licensed(full)
    second = licensed(full)  # a second store: a license of its own
    with full.session() as session:
        ends = session.scalars(select(License).where(License.identifier == first)).one()
        assert ends.valid_until is not None
        day = ends.valid_until - timedelta(days=30)
        assert remind_renewals(session, day) >= 2
        assert remind_renewals(session, day) == 0
        session.commit()
    assert told(full, first) == told(full, second) == 1  # no topic shared between them
    renewal = submitted(full, {}, amends=first, renew=True)
    with full.session() as session:
        renewing = renewals_in_progress(session)
        row = session.scalars(select(License).where(License.identifier == first)).one()
        other = session.scalars(select(License).where(License.identifier == second)).one()
        assert row.id in renewing and other.id not in renewing
        assert row.valid_until is not None
        licenses.expire_due(session, row.valid_until + timedelta(days=1), renewing)
        # Applied for in time: it stays in force until the renewal is decided.
        assert row.status == "01" and other.status == "05"
        session.rollback()
    renewed = approve_all(full, renewal)
    with full.session() as session:
        new = session.scalars(select(License).where(License.identifier == renewed["license"]))
        row = new.one()
        assert row.valid_until is not None
        assert remind_renewals(session, row.valid_until - timedelta(days=30)) >= 1
        session.commit()
    assert told(full, renewed["license"]) == 1  # the new version is told of its own end


def narrow_scope(world: World, scope: list[str]) -> list[str]:
    """Set the agent's scope; returns the one it had (the world is shared by the module)."""
    with world.session() as session:
        account = session.scalars(select(Account).where(Account.username == AGENT)).one()
        row = session.scalars(
            select(EnterpriseAgent).where(EnterpriseAgent.person_id == account.person_id)
        ).one()
        before = list(row.scope)
        row.scope = scope
        session.commit()
    return before


def test_cancelling_needs_a_scope_covering_every_permit(full: World) -> None:
    identifier = licensed(full)
    before = narrow_scope(full, ["07"])
    try:
        r = cancel(full, identifier)
    finally:
        narrow_scope(full, before)
    assert r.status_code == 403 and r.json()["code"] == "agent_out_of_scope"
    verified = full.client.get(f"/api/v1/licenses/{identifier}/verify").json()
    assert verified["valid"] is True  # nothing changed


def test_suspended_licenses_are_not_amended_and_renewal_names_its_license(full: World) -> None:
    identifier = licensed(full)
    no_license = post(full, {"renew": True})
    assert no_license.status_code == 422
    assert no_license.json()["errors"][0]["field"] == "amends"
    with full.session() as session:
        licenses.change_status(
            session, registry_of(full), licenses.SYSTEM_ACTOR, identifier, "suspend", "停业整顿"
        )
        session.commit()
    for body in ({**ADD_DRUGS, "amends": identifier}, {"amends": identifier, "renew": True}):
        r = post(full, body)
        assert r.status_code == 409 and r.json()["code"] == "license_not_current"
    assert cancel(full, identifier).json()["code"] == "license_not_current"


def test_an_industry_case_may_be_delivered_electronically(full: World) -> None:
    r = post(full, {"answers": SHOP, "delivery": "electronic"})
    assert r.status_code == 201, r.text
    assert r.json()["delivery"]["method"] == "electronic"


def test_other_query_parameters_are_not_answers(full: World) -> None:
    plain = full.client.get("/api/v1/industries/convenience-store/metrics").json()
    tagged = full.client.get(
        "/api/v1/industries/convenience-store/metrics?utm_source=wechat"
    ).json()
    assert tagged == plain
    days = plain["after"]["days"]
    slowest = max(int(p["days"]) for p in plain["per_permit"])
    assert days <= slowest  # one time limit, never longer than the slowest permit
