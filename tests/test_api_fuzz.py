"""The whole HTTP API fuzzed from its own OpenAPI document (schemathesis): valid and invalid
requests for every operation, as a citizen and as an administrator. No answer is a 500, every
answer fits the schema it documents, every refusal is problem+json, and a refused request
changes no row."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import func, select

from tests.cases.conftest import a_known_day, full
from tests.idcode.conftest import World
from tongban.db import Base
from tongban.errors import PROBLEM_JSON

__all__ = ["a_known_day", "full"]

# Written on purpose when a request is refused: the audit trail of refusals and failed logins,
# every scan whatever its outcome (the holder's 谁扫了我的码), and rate-limit and lockout state.
WRITTEN_ON_REFUSAL = {"audit_entries", "audit_head", "code_scans", "login_attempts", "accounts"}
# Who calls: administrators for the administrative paths, a citizen for the rest.
ADMIN_PATHS = ("/api/v1/admin", "/api/v1/dashboard", "/api/v1/federation", "/api/v1/calendar")
EXAMPLES = 6


def _operations() -> list[Any]:
    from tongban.app import create_app
    from tongban.settings import Settings

    spec = create_app(Settings(database_url="sqlite://")).openapi()
    schema = schemathesis.openapi.from_dict(spec)
    return [r.ok() for r in schema.get_all_operations()]


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def api(full: World) -> tuple[Any, World, dict[str, dict[str, str]]]:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", full.client.app)
    tokens = {user: full.auth(user) for user in ("citizen1", "admin")}
    return schema, full, tokens


def _row_counts(world: World) -> dict[str, int]:
    with world.session() as session:
        return {
            table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
            if table.name not in WRITTEN_ON_REFUSAL
        }


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(
    "operation", OPERATIONS, ids=[f"{o.method.upper()} {o.path}" for o in OPERATIONS]
)
def test_the_api_holds_for_any_request(
    api: tuple[Any, World, dict[str, dict[str, str]]],
    operation: Any,
    mode: GenerationMode,
    a_known_day: Any,
) -> None:
    schema, world, tokens = api
    live = schema[operation.path][operation.method.upper()]
    user = "admin" if operation.path.startswith(ADMIN_PATHS) else "citizen1"

    @given(case=live.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        writes = operation.method.upper() in ("POST", "PUT", "PATCH", "DELETE")
        before = _row_counts(world) if writes else None
        response = case.call(headers=tokens[user])
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
        if response.status_code >= 400:
            # schemathesis keeps each header as a list of its values
            content_type = (response.headers.get("content-type") or [""])[0]
            assert content_type.startswith(PROBLEM_JSON), (case.path, response.text)
            if before is not None:
                assert _row_counts(world) == before, (case.method, case.path, response.text)

    try:
        check()
    except Unsatisfiable:
        # Nothing to get wrong: an operation without parameters or body has no invalid form.
        assert mode is GenerationMode.NEGATIVE
