"""The public contract of the catalog API, and its problem+json answers to bad input."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


def test_search_returns_the_contract_shape(client: TestClient) -> None:
    r = client.get("/api/v1/matters", params={"q": "出生", "size": 5})
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {"items", "total"}
    assert 0 < len(body["items"]) <= 5 and body["total"] >= len(body["items"])
    item = body["items"][0]
    assert set(item) >= {"code", "name", "department"}
    assert set(item["department"]) >= {"code", "name"}


def test_browsing_pages_through_the_whole_catalog(client: TestClient) -> None:
    first = client.get("/api/v1/matters", params={"size": 100}).json()
    total = first["total"]
    assert total >= 80
    codes = [i["code"] for i in first["items"]]
    page = 2
    while len(codes) < total:
        more = client.get("/api/v1/matters", params={"size": 100, "page": page}).json()["items"]
        assert more, "a page ran out before the total was reached"
        codes += [i["code"] for i in more]
        page += 1
    assert len(codes) == len(set(codes)) == total
    beyond = client.get("/api/v1/matters", params={"size": 100, "page": page}).json()
    assert beyond["items"] == [] and beyond["total"] == total


def test_guide_contract(client: TestClient) -> None:
    code = client.get("/api/v1/matters", params={"q": "出生医学证明"}).json()["items"][0]["code"]
    r = client.get(f"/api/v1/matters/{code}")
    assert r.status_code == 200
    g = r.json()
    assert g["code"] == code and g["version"] >= 1 and g["halls"]
    for m in g["materials"]:
        assert set(m) >= {"name", "source", "exempt"}
        if m["source"] == "license":
            assert m["license_type"] and m["exempt"]
        if m["source"] == "department":
            assert m["department"]


def test_stats_contract(client: TestClient) -> None:
    s = client.get("/api/v1/catalog/stats").json()
    for key in (
        "matters",
        "departments",
        "materials",
        "department_issued_materials",
        "department_issued_exempt",
    ):
        assert isinstance(s[key], int)
    assert 0 <= s["exemption_rate"] <= 1
    assert s["exemption_rate"] == round(
        s["department_issued_exempt"] / s["department_issued_materials"], 4
    )


def test_unknown_matter_is_a_404_problem(client: TestClient) -> None:
    r = client.get("/api/v1/matters/000000000000")
    assert r.status_code == 404
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["code"] == "matter_not_found" and body["title"] and body["title_en"]
    assert body["status"] == 404 and body["errors"] == []


def test_unknown_version_is_a_404_problem(client: TestClient) -> None:
    code = client.get("/api/v1/matters").json()["items"][0]["code"]
    r = client.get(f"/api/v1/matters/{code}", params={"version": 999})
    assert r.status_code == 404 and r.json()["code"] == "matter_version_not_found"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"size": 0}, "size"),
        ({"size": 101}, "size"),
        ({"size": "ten"}, "size"),
        ({"page": 0}, "page"),
        ({"page": -3}, "page"),
        ({"audience": "robot"}, "audience"),
        ({"district": "110101"}, "district"),
        ({"online": "maybe"}, "online"),
        ({"kind": "99"}, "kind"),
        ({"q": "长" * 101}, "q"),
    ],
)
def test_bad_parameters_are_422_problems_naming_the_parameter(
    client: TestClient, params: dict[str, object], field: str
) -> None:
    r = client.get("/api/v1/matters", params=params)
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["code"] == "validation_failed" and body["title"] == "请求参数有误"
    assert [e["field"] for e in body["errors"]] == [field]


@pytest.mark.parametrize(
    "q",
    [
        '"',
        "OR",
        "AND NOT",
        "NEAR(a b)",
        "*",
        "a:b",
        "'; DROP TABLE matters; --",
        "^",
        "()",
        "\\",
        "　",
        "😀",
    ],
)
def test_search_syntax_in_a_query_never_breaks_it(client: TestClient, q: str) -> None:
    r = client.get("/api/v1/matters", params={"q": q})
    assert r.status_code == 200, r.text
    assert isinstance(r.json()["total"], int)


def test_unknown_routes_and_methods_are_problems(client: TestClient) -> None:
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == "not_found"
    r = client.delete("/api/v1/matters")
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"


def test_departments_halls_and_districts(client: TestClient) -> None:
    deps = client.get("/api/v1/departments").json()
    assert sum(1 for d in deps if d["level"] != "external" and d["matters"]) >= 15
    one = client.get(f"/api/v1/departments/{deps[0]['code']}").json()
    assert one["code"] == deps[0]["code"]
    assert client.get("/api/v1/departments/nope").json()["code"] == "department_not_found"
    halls = client.get("/api/v1/halls", params={"district": "310101"}).json()
    assert halls and all(h["district"] == "310101" for h in halls)
    centers = client.get("/api/v1/halls", params={"kind": "district_center"}).json()
    assert len(centers) == 16
    assert client.get("/api/v1/halls/nope").status_code == 404
    assert client.get("/api/v1/halls", params={"kind": "palace"}).status_code == 422
    assert len(client.get("/api/v1/districts").json()) == 16


def test_openapi_document_is_served(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert "/api/v1/matters" in spec["paths"] and "/api/v1/matters/{code}" in spec["paths"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/matters/%00",
        "/api/v1/departments/%00",
        "/api/v1/halls/a%00b",
        "/api/v1/matters?department=%00",
        "/api/v1/matters?q=%00",
        "/matters/%00",
    ],
)
def test_a_nul_byte_is_a_400_problem_on_every_database(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 400
    assert r.headers["content-type"] == PROBLEM and r.json()["code"] == "bad_request"


def test_empty_filters_mean_no_filter(client: TestClient) -> None:
    everything = client.get("/api/v1/matters").json()["total"]
    params = {"audience": "", "department": "", "district": "", "online": "", "kind": ""}
    assert client.get("/api/v1/matters", params=params).json()["total"] == everything


def test_head_is_served_like_get_without_a_body(client: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/", "/api/v1/matters?q=护照"):
        r = client.head(path)
        assert r.status_code == 200, path
        assert r.content == b""


def test_a_wrong_method_names_the_allowed_ones(client: TestClient) -> None:
    r = client.post("/api/v1/matters")
    assert r.status_code == 405 and "GET" in r.headers["allow"]


def test_bare_api_path_is_a_problem_not_a_page(client: TestClient) -> None:
    r = client.get("/api", headers={"accept": "text/html"})
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
