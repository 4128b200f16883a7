"""Every route declares who may call it, and each role gets what its rule says."""

from __future__ import annotations

import pytest
from fastapi.routing import RouteContext
from fastapi.testclient import TestClient

from tests.fixtures_identity import login
from tests.routes import api_routes, depends_on
from tongban.access import AccessRule
from tongban.app import create_app
from tongban.settings import Settings


def _rules(route: RouteContext) -> list[AccessRule]:
    return depends_on(route, lambda call: isinstance(call, AccessRule))


def test_every_route_declares_exactly_one_access_rule() -> None:
    app = create_app(Settings(database_url="sqlite://"))
    undeclared, doubled = [], []
    routes = list(api_routes(app))
    assert len(routes) > 150  # every feature's routes, not only the app's own
    for route in routes:
        rules = _rules(route)
        if not rules:
            undeclared.append(f"{sorted(route.methods or [])} {route.path}")
        elif len({r.describe() for r in rules}) > 1:
            doubled.append(f"{route.path}: {[r.describe() for r in rules]}")
    assert undeclared == [], f"routes without an access rule: {undeclared}"
    assert doubled == []


ACCOUNTS = [
    "citizen1",
    "citizen2",
    "enterprise1",
    "window1",
    "window2",
    "reviewer1",
    "issuer1",
    "admin",
    "metro1",
]

# (method, path, who may: "anyone" | "account" | a set of roles)
MATRIX: list[tuple[str, str, str]] = [
    ("GET", "/api/v1/matters", "anyone"),
    ("GET", "/api/v1/catalog/stats", "anyone"),
    ("GET", "/healthz", "anyone"),
    ("GET", "/", "anyone"),
    ("GET", "/api/v1/me", "account"),
    ("GET", "/api/v1/me/data-usage", "account"),
]

STAFF = {"window1", "window2", "reviewer1", "issuer1", "admin"}


def test_role_restricted_endpoints(app_client: TestClient) -> None:
    body = {"id_number": "11010519491231002X", "reason": "核对身份"}
    assert app_client.post("/api/v1/persons/lookup", json=body).status_code == 401
    for username in ACCOUNTS:
        token = login(app_client, username)["access_token"]
        r = app_client.post(
            "/api/v1/persons/lookup", json=body, headers={"authorization": f"Bearer {token}"}
        )
        # Staff reach the look-up (this person is not registered: 404); others are refused.
        assert r.status_code == (404 if username in STAFF else 403), (username, r.text)


@pytest.mark.parametrize(("method", "path", "who"), MATRIX)
def test_the_access_matrix(app_client: TestClient, method: str, path: str, who: str) -> None:
    anonymous = app_client.request(method, path)
    assert anonymous.status_code == (200 if who == "anyone" else 401), path
    for username in ACCOUNTS:
        token = login(app_client, username)["access_token"]
        r = app_client.request(method, path, headers={"authorization": f"Bearer {token}"})
        assert r.status_code == 200, (username, path, r.text)
