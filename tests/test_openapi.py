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


def test_the_identifiers_in_the_examples_are_valid(client: TestClient) -> None:
    # An app developer copies an example: its ID numbers and credit codes must pass our checks.
    from tongban.common.identifiers import is_valid_id_number, is_valid_uscc

    spec = client.get("/api/openapi.json").json()
    found = 0
    for schema in spec["components"]["schemas"].values():
        for example in schema.get("examples", []):
            for key, value in _flatten(example):
                if key.endswith("id_number"):
                    assert is_valid_id_number(value), (key, value)
                    found += 1
                elif key.endswith("uscc"):
                    assert is_valid_uscc(value), (key, value)
                    found += 1
    assert found >= 2


def _flatten(value: object, key: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _flatten(v, str(k))]
    return [(key, value)] if isinstance(value, str) else []


def test_the_dashboard_is_in_the_api_for_leaders(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert "/api/v1/dashboard" in spec["paths"]
