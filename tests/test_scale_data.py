"""The city-scale data set (`bench/scale_data.py`) is data the product itself accepts: valid
identifiers, fields that decrypt under the database's keys, licenses that verify where they
are signed and fail only on the signature where they are not, cases whose history leads to
their status. And a build stopped halfway goes on with `--resume` without writing anything
twice. Built at 1/2000 of the city on PostgreSQL."""

from __future__ import annotations

import itertools
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(not PG_URL, reason="the scale data set is built in PostgreSQL")

ROOT = Path(__file__).parent.parent
SCALE = "0.0005"  # 500 persons, 25 enterprises, 1,500 cases, 1,000 codes


def _script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    assert PG_URL
    return subprocess.run(
        [sys.executable, "bench/scale_data.py", *args, "--server", PG_URL, "--db", name],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def built() -> Iterator[tuple[Engine, Any, dict[str, Any]]]:
    from tongban.app import create_app
    from tongban.db import make_engine

    sys.path.insert(0, str(ROOT / "bench"))
    from support.scale import settings_for

    name = f"tongban_scale_test_{uuid.uuid4().hex[:8]}"
    try:
        stopped = _script(name, "--build", "--scale", SCALE, "--stop-after", "2")
        assert stopped.returncode == 3, stopped.stdout + stopped.stderr
        again = _script(name, "--build", "--scale", SCALE)
        assert again.returncode == 1 and "--resume" in again.stdout, again.stdout
        resumed = _script(name, "--build", "--scale", SCALE, "--resume")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert PG_URL
        settings = settings_for(PG_URL, name)
        engine = make_engine(settings.database_url)
        app = create_app(settings, engine)
        try:
            yield engine, app, {"stopped": stopped.stdout, "resumed": resumed.stdout}
        finally:
            engine.dispose()
    finally:
        _script(name, "--drop")
        sys.path.remove(str(ROOT / "bench"))


def _one(engine: Engine, sql: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def test_a_stopped_build_resumes_where_it_stopped(
    built: tuple[Engine, Any, dict[str, Any]],
) -> None:
    engine, _, out = built
    assert "done before" not in out["stopped"]
    assert "persons: done before" in out["resumed"]
    assert "enterprises: done before" in out["resumed"]
    # Every chunk is recorded once, and what it recorded is what the tables hold.
    with engine.connect() as conn:
        query = text("SELECT phase, sum(rows) FROM scale_progress GROUP BY 1")
        recorded = {phase: int(n) for phase, n in conn.execute(query).all()}
    persons = _one(engine, "SELECT count(*) FROM persons WHERE real_name_provider = 'scale-data'")
    assert persons == 500
    assert recorded["persons"] == 3 * persons  # the person, the account, the citizen role
    cases = _one(engine, "SELECT count(*) FROM cases WHERE id >= 1000")
    events = _one(engine, "SELECT count(*) FROM case_events WHERE id >= 1000")
    assert cases == 1_500
    assert recorded["cases"] == cases + events


def test_people_and_enterprises_carry_valid_identifiers_that_decrypt(
    built: tuple[Engine, Any, dict[str, Any]],
) -> None:
    from tongban.common.identifiers import is_valid_id_number, is_valid_uscc
    from tongban.identity.models import Enterprise, Person
    from tongban.identity.service import find_person_by_id_number

    _, app, _ = built
    ring = app.state.keyring
    with app.state.sessions() as session:
        people = session.scalars(
            select(Person).where(Person.real_name_provider == "scale-data").limit(100)
        ).all()
        numbers = {ring.decrypt(session, "person.id_number", p.id_number_enc) for p in people}
        assert len(numbers) == len(people)
        assert all(is_valid_id_number(n) for n in numbers)
        # Found by the blind index, as a window finds a person by the card it reads.
        for p in people[:10]:
            number = ring.decrypt(session, "person.id_number", p.id_number_enc)
            assert find_person_by_id_number(session, ring, number) == p
            assert ring.decrypt(session, "person.address", p.address_enc).startswith("上海市")
        codes = session.scalars(select(Enterprise.uscc).where(Enterprise.id >= 1000)).all()
        assert len(codes) == 25
        assert all(is_valid_uscc(c) for c in codes)


def test_licenses_verify_where_signed_and_fail_only_on_the_signature_elsewhere(
    built: tuple[Engine, Any, dict[str, Any]],
) -> None:
    from tongban.licenses import service as licenses
    from tongban.licenses.identifier import parse_identifier
    from tongban.licenses.models import License

    _, app, _ = built
    registry = app.state.licenses
    with app.state.sessions() as session:
        rows = session.scalars(
            select(License).where(License.id >= 1000, License.status == "01").limit(400)
        ).all()
        genuine = 0
        for row in rows:
            parse_identifier(row.identifier)
            result = licenses.verify_registered(session, registry, row.identifier)
            failed = {c.name for c in result.checks if not c.ok}
            if result.valid:
                genuine += 1
            else:
                assert failed == {"signature"}, (row.identifier, result.as_dict())
    assert 0 < genuine < len(rows) / 5  # about one in 20


def test_cases_read_as_the_applicant_sees_them_with_their_history(
    built: tuple[Engine, Any, dict[str, Any]],
) -> None:
    from tongban.cases import service as cases
    from tongban.cases.api import case_out
    from tongban.cases.models import Case
    from tongban.identity.models import Account
    from tongban.identity.service import principal_of

    _, app, _ = built
    with app.state.sessions() as session:
        applicant = session.scalar(
            select(Case.created_by)
            .where(Case.id >= 1000)
            .group_by(Case.created_by)
            .order_by(text("count(*) DESC"))
            .limit(1)
        )
        account = session.get(Account, applicant)
        assert account is not None
        principal = principal_of(account)
        mine = cases.my_cases(session, principal)
        assert mine
        for case in mine:
            shown = case_out(session, app.state.licenses, principal, case)
            history = shown["history"]
            assert history[-1]["to"] == case.status
            assert all(a["to"] == b["from"] for a, b in itertools.pairwise(history))
            if case.accepted_on is not None:
                assert case.due_date is not None and case.due_date >= case.accepted_on
            assert case.submitted_at is None or case.submitted_at.date() <= date.today()


def test_a_cases_materials_name_the_licenses_its_applicant_holds(
    built: tuple[Engine, Any, dict[str, Any]],
) -> None:
    """As the 免提交 resolver would have answered at submission: a material met by a license
    names a valid license of the applicant (or their enterprise); one refused names theirs."""
    from tongban.cases.models import Case
    from tongban.licenses.models import License

    _, app, _ = built
    found = refused = 0
    with app.state.sessions() as session:
        for case in session.scalars(select(Case).where(Case.id >= 1000).limit(300)):
            for m in case.materials:
                if "identifier" not in m:
                    continue
                row = session.scalars(
                    select(License).where(License.identifier == m["identifier"])
                ).one()
                assert row.current
                assert (row.person_id, row.enterprise_id) in (
                    (case.person_id, None),
                    (None, case.enterprise_id),
                ), (case.id, m)
                if m["reason"] == "found":
                    found += 1
                    assert m["resolution"] == "license" and row.status == "01"
                else:
                    refused += 1
                    assert m["reason"] == "license_not_valid" and m["resolution"] == "upload"
    assert found > 0
