"""The calendar over HTTP: anyone reads a year; only an administrator enters one (audited)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.fixtures_identity import login
from tongban.db import make_sessionmaker
from tongban.workdays.service import seed_from_chinesecalendar


def test_read_a_year_and_enter_the_next(app_client: TestClient) -> None:
    engine = app_client.app.state.engine  # type: ignore[attr-defined]
    session: Session = make_sessionmaker(engine)()
    seed_from_chinesecalendar(session)
    session.commit()
    session.close()
    year = app_client.get("/api/v1/calendar/2026").json()
    assert year["source"].startswith("chinesecalendar")
    assert {"date": "2026-10-10", "kind": "workday", "name": "国庆节"} in year["days"]
    assert app_client.get("/api/v1/calendar/2027").json()["code"] == "calendar_year_unknown"
    body = {"days": [{"date": "2027-01-01", "kind": "holiday", "name": "元旦"}]}
    citizen = login(app_client, "citizen1")["access_token"]
    refused = app_client.put(
        "/api/v1/calendar/2027", json=body, headers={"authorization": f"Bearer {citizen}"}
    )
    assert refused.status_code == 403
    admin = login(app_client, "admin")["access_token"]
    entered = app_client.put(
        "/api/v1/calendar/2027", json=body, headers={"authorization": f"Bearer {admin}"}
    )
    assert entered.status_code == 200, entered.text
    assert entered.json()["source"] == "admin:admin"
    assert app_client.get("/api/v1/calendar/2027").json()["days"][0]["name"] == "元旦"
    bad = app_client.put(
        "/api/v1/calendar/2027",
        json={"days": [{"date": "2027-13-01", "kind": "holiday", "name": "x"}]},
        headers={"authorization": f"Bearer {admin}"},
    )
    assert bad.status_code == 422
