"""Login, lockout, one-time codes, tokens (expiry, refresh, reuse, revocation), /me."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from tests.fixtures_identity import login
from tongban.app import create_app
from tongban.audit.models import AuditEntry
from tongban.audit.service import record
from tongban.crypto.service import Keyring
from tongban.db import make_sessionmaker, transaction, utcnow
from tongban.identity.models import Account, AuthToken, SystemFlag
from tongban.identity.service import enroll_otp, otp_now
from tongban.settings import Settings

PROBLEM = "application/problem+json"


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_login_and_me(app_client: TestClient) -> None:
    tokens = login(app_client, "citizen1")
    assert set(tokens) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 15 * 60
    me = app_client.get("/api/v1/me", headers=bearer(tokens["access_token"])).json()
    assert me["username"] == "citizen1" and me["roles"] == [{"role": "citizen", "binding": ""}]
    assert "*" in me["person"]["id_number"] and "*" in me["person"]["phone"]
    assert len(me["person"]["id_number"]) == 18


def test_me_for_an_enterprise_agent_shows_the_enterprise(app_client: TestClient) -> None:
    tokens = login(app_client, "enterprise1")
    me = app_client.get("/api/v1/me", headers=bearer(tokens["access_token"])).json()
    assert me["enterprise"]["uscc"].startswith("91310") and me["enterprise"]["name"]
    agent_roles = [r for r in me["roles"] if r["role"] == "enterprise_agent"]
    assert len(agent_roles) == 1 and agent_roles[0]["binding"].isdigit()


def test_wrong_credentials_are_a_401_problem_that_reveals_nothing(app_client: TestClient) -> None:
    wrong = app_client.post("/api/v1/auth/token", json={"username": "citizen1", "password": "x"})
    nobody = app_client.post("/api/v1/auth/token", json={"username": "nobody", "password": "x"})
    for r in (wrong, nobody):
        assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
        assert r.json()["code"] == "invalid_credentials"
    assert wrong.json()["title"] == nobody.json()["title"]


def test_a_bad_body_is_a_422(app_client: TestClient) -> None:
    r = app_client.post("/api/v1/auth/token", json={"username": "citizen1"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "password"
    r = app_client.post(
        "/api/v1/auth/token", content=b"not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422


def test_lockout_after_repeated_failures(app_client: TestClient, demo_engine: Engine) -> None:
    for _ in range(5):
        r = app_client.post("/api/v1/auth/token", json={"username": "citizen2", "password": "bad"})
        assert r.status_code == 401
    r = app_client.post(
        "/api/v1/auth/token", json={"username": "citizen2", "password": "Demo@2026"}
    )
    assert r.status_code == 423 and r.json()["code"] == "account_locked"
    with transaction(make_sessionmaker(demo_engine)) as s:
        failures = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "auth.login_failed")
        ).all()
        assert len(failures) == 5
        s.execute(
            update(Account).where(Account.username == "citizen2").values(locked_until=utcnow())
        )
    login(app_client, "citizen2")  # the lock has run out


def test_a_demo_account_works_only_in_a_demo_database(
    app_client: TestClient, demo_engine: Engine
) -> None:
    with transaction(make_sessionmaker(demo_engine)) as s:
        s.execute(SystemFlag.__table__.delete())
    r = app_client.post("/api/v1/auth/token", json={"username": "admin", "password": "Demo@2026"})
    assert r.status_code == 401


def test_staff_need_a_one_time_code(
    demo_engine: Engine, settings: Settings, keyring: Keyring
) -> None:
    strict = settings.model_copy(update={"require_staff_otp": True})
    with TestClient(create_app(strict, demo_engine)) as c:
        r = c.post("/api/v1/auth/token", json={"username": "window1", "password": "Demo@2026"})
        assert r.status_code == 401 and r.json()["code"] == "otp_required"
        r = c.post(
            "/api/v1/auth/token",
            json={"username": "window1", "password": "Demo@2026", "otp": "123456"},
        )
        assert r.status_code == 403 and r.json()["code"] == "otp_not_enrolled"
        with transaction(make_sessionmaker(demo_engine)) as s:
            account = s.scalars(select(Account).where(Account.username == "window1")).one()
            secret = enroll_otp(s, c.app.state.keyring, account)  # type: ignore[attr-defined]
        good = otp_now(secret)
        wrong = f"{(int(good) + 1) % 1_000_000:06d}"
        r = c.post(
            "/api/v1/auth/token",
            json={"username": "window1", "password": "Demo@2026", "otp": wrong},
        )
        assert r.status_code == 401
        login(c, "window1", otp=good)
        login(c, "citizen1")  # citizens need no second factor


def test_tokens_expire_refresh_and_revoke(app_client: TestClient, demo_engine: Engine) -> None:
    first = login(app_client, "citizen1")
    # Refresh: a new pair; the old refresh token is spent.
    r = app_client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert app_client.get("/api/v1/me", headers=bearer(second["access_token"])).status_code == 200
    # Reusing the spent refresh token ends the whole family, the new tokens included.
    r = app_client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"
    assert app_client.get("/api/v1/me", headers=bearer(second["access_token"])).status_code == 401
    # Expiry.
    third = login(app_client, "citizen1")
    with transaction(make_sessionmaker(demo_engine)) as s:
        s.execute(update(AuthToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    r = app_client.get("/api/v1/me", headers=bearer(third["access_token"]))
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"
    # Logout.
    fourth = login(app_client, "citizen1")
    assert (
        app_client.post("/api/v1/auth/logout", headers=bearer(fourth["access_token"])).status_code
        == 200
    )
    assert app_client.get("/api/v1/me", headers=bearer(fourth["access_token"])).status_code == 401
    r = app_client.post("/api/v1/auth/refresh", json={"refresh_token": fourth["refresh_token"]})
    assert r.status_code == 401


def test_anonymous_and_malformed_credentials(app_client: TestClient) -> None:
    r = app_client.get("/api/v1/me")
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
    r = app_client.get("/api/v1/me", headers={"authorization": "Basic abc"})
    assert r.status_code == 401
    r = app_client.get("/api/v1/me", headers=bearer("made-up-token"))
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"


def test_login_is_rate_limited(demo_engine: Engine, settings: Settings) -> None:
    tight = settings.model_copy(update={"login_rate_per_minute": 3})
    with TestClient(create_app(tight, demo_engine)) as c:
        for _ in range(3):
            c.post("/api/v1/auth/token", json={"username": "citizen1", "password": "bad"})
        r = c.post("/api/v1/auth/token", json={"username": "citizen1", "password": "Demo@2026"})
        assert r.status_code == 429 and r.json()["code"] == "rate_limited"


def test_a_person_sees_who_used_their_data(app_client: TestClient, demo_engine: Engine) -> None:
    tokens = login(app_client, "citizen1")
    with transaction(make_sessionmaker(demo_engine)) as s:
        person_id = s.scalars(select(Account.person_id).where(Account.username == "citizen1")).one()
        record(
            s,
            actor="account:4",
            actor_role="window_staff",
            action="person.read",
            data_subject=person_id,
            reason="窗口受理办件",
        )
    usage = app_client.get("/api/v1/me/data-usage", headers=bearer(tokens["access_token"])).json()
    assert [(u["action"], u["reason"]) for u in usage] == [("person.read", "窗口受理办件")]
    other = login(app_client, "citizen2")
    assert (
        app_client.get("/api/v1/me/data-usage", headers=bearer(other["access_token"])).json() == []
    )


def test_security_headers(app_client: TestClient) -> None:
    for path in ("/", "/api/v1/matters", "/api/v1/me"):
        r = app_client.get(path)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert "default-src 'self'" in r.headers["content-security-policy"]


def test_staff_look_a_person_up_and_the_person_sees_it(
    app_client: TestClient, demo_engine: Engine, keyring: Keyring
) -> None:
    with transaction(make_sessionmaker(demo_engine)) as s:
        person_id = s.scalars(select(Account.person_id).where(Account.username == "citizen1")).one()
        from tongban.identity.models import Person

        person = s.get(Person, person_id)
        assert person is not None
        id_number = keyring.decrypt(s, "person.id_number", person.id_number_enc)
    staff = login(app_client, "window1")["access_token"]
    body = {"id_number": id_number, "reason": "窗口受理：出生登记"}
    r = app_client.post("/api/v1/persons/lookup", json=body, headers=bearer(staff))
    assert r.status_code == 200 and r.json()["id_number"].count("*") == 11
    citizen = login(app_client, "citizen2")["access_token"]
    r = app_client.post("/api/v1/persons/lookup", json=body, headers=bearer(citizen))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = app_client.post(
        "/api/v1/persons/lookup",
        json={**body, "id_number": "11010519491231002X"},
        headers=bearer(staff),
    )
    assert r.status_code == 404 and r.json()["code"] == "person_not_found"
    r = app_client.post(
        "/api/v1/persons/lookup", json={"id_number": id_number}, headers=bearer(staff)
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    mine = login(app_client, "citizen1")["access_token"]
    usage = app_client.get("/api/v1/me/data-usage", headers=bearer(mine)).json()
    assert [(u["action"], u["reason"], u["actor_role"]) for u in usage] == [
        ("person.read", "窗口受理：出生登记", "window_staff")
    ]


def test_a_legal_representative_grants_an_agent(
    app_client: TestClient, demo_engine: Engine, keyring: Keyring
) -> None:
    from tongban.identity.models import Enterprise, Person

    with transaction(make_sessionmaker(demo_engine)) as s:
        enterprise = s.scalars(select(Enterprise).order_by(Enterprise.id)).first()
        assert enterprise is not None
        rep = s.get(Person, enterprise.legal_rep_id)
        agent = s.get(Person, 1)
        assert rep is not None and agent is not None
        agent_id = keyring.decrypt(s, "person.id_number", agent.id_number_enc)
        from tongban.identity.schemas import Role
        from tongban.identity.service import create_account

        create_account(
            s,
            "rep1",
            "Rep@2026-long",
            [(Role.CITIZEN, "")],
            display_name=rep.name,
            person_id=rep.id,
        )
    token = login(app_client, "rep1", "Rep@2026-long")["access_token"]
    r = app_client.post(
        "/api/v1/me/agents",
        json={"id_number": agent_id, "scope": ["01", "07"], "days": 90},
        headers=bearer(token),
    )
    assert r.status_code == 200, r.text
    assert r.json()["enterprise"] == enterprise.uscc and r.json()["scope"] == ["01", "07"]
    other = login(app_client, "citizen2")["access_token"]
    r = app_client.post(
        "/api/v1/me/agents",
        json={"id_number": agent_id, "scope": ["*"], "days": 9},
        headers=bearer(other),
    )
    assert r.status_code == 403 and r.json()["code"] == "not_legal_representative"
    with transaction(make_sessionmaker(demo_engine)) as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
        assert "agent.grant" in actions
