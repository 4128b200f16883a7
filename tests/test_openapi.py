"""The API the app and mini programs use is documented with examples in its OpenAPI document."""

from __future__ import annotations

from fastapi.testclient import TestClient

# The app's writes (log in, a code, apply, move a case, share a license, rate).
APP_WRITES = {
    ("/api/v1/auth/token", "post"),
    ("/api/v1/me/code", "post"),
    ("/api/v1/cases", "post"),
    ("/api/v1/cases/{case_id}/transitions", "post"),
    ("/api/v1/me/grants", "post"),
    ("/api/v1/ratings", "post"),
}


def _schema_of(spec: dict, operation: dict) -> dict:
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    # An optional body is `anyOf: [{$ref}, {type: null}]`.
    ref = schema.get("$ref") or next(s["$ref"] for s in schema["anyOf"] if "$ref" in s)
    return spec["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_every_write_of_the_app_has_an_example_body_that_the_api_accepts_in_shape(
    client: TestClient,
) -> None:
    spec = client.get("/api/openapi.json").json()
    for path, method in sorted(APP_WRITES):
        operation = spec["paths"][path][method]
        schema = _schema_of(spec, operation)
        examples = schema.get("examples")
        assert examples, f"{method.upper()} {path} has no example"
        for example in examples:
            assert set(example) <= set(schema["properties"]), (path, example)
            assert set(schema.get("required", [])) <= set(example), (path, example)


def test_the_dashboard_is_in_the_api_for_leaders(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert "/api/v1/dashboard" in spec["paths"]
