"""A pre-review worker killed mid-job: a real `tongban prereview work` is SIGKILLed while it is
reading a case's documents (its claim provably held), and the next worker runs the job again;
its effect — the verdict, the line in the case's history, the applicant's message — happens
once, and the kill is counted as an attempt. Two workers at once never run the same job."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from tests.conftest import fresh_database
from tests.faults.helpers import Process, node_env, run, until
from tongban.cases.models import CaseEvent
from tongban.db import make_engine
from tongban.notify.models import Message
from tongban.prereview.models import Prereview
from tongban.prereview.service import CLAIM_LOCK_CLASS


@pytest.fixture
def node(backend: str, tmp_path: Path) -> Iterator[tuple[dict[str, str], Engine]]:
    """A demo database: its sample applications leave two pre-reviews queued, each of a case
    with five uploaded documents to read (seconds of OCR)."""
    with fresh_database(backend, tmp_path) as url:
        env = node_env(url, tmp_path / "files")
        run(env, "demo", "--no-serve")
        engine = make_engine(url)
        try:
            yield env, engine
        finally:
            engine.dispose()


def _rows(engine: Engine) -> dict[int, tuple[str, int, int]]:
    with engine.connect() as conn:
        found = conn.execute(
            select(Prereview.id, Prereview.status, Prereview.attempts, Prereview.case_id)
        )
        return {i: (status, attempts, case) for i, status, attempts, case in found}


def _effects(engine: Engine, case_id: int) -> tuple[int, int]:
    """How often the case was told of a pre-review: history lines, messages to the applicant."""
    with engine.connect() as conn:
        lines = conn.scalar(
            select(func.count()).select_from(CaseEvent)
            .where(CaseEvent.case_id == case_id, CaseEvent.action == "prereview")
        )  # fmt: skip
        told = conn.scalar(
            select(func.count()).select_from(Message)
            .where(Message.topic == f"case:{case_id}", Message.body.startswith("智能预审发现"))
        )  # fmt: skip
    return int(lines or 0), int(told or 0)


def _lock_held(engine: Engine, row_id: int) -> bool:
    """PostgreSQL: a worker's advisory lock on the pre-review (its claim while it runs)."""
    with engine.connect() as conn:
        held = conn.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = :kind AND objid = :id AND objsubid = 2"
            ),
            {"kind": CLAIM_LOCK_CLASS, "id": row_id},
        )
    return bool(held)


def _claim_held(engine: Engine, row_id: int) -> bool:
    """Past the claim and into the work: its attempt committed while it is still pending, and
    on PostgreSQL the worker's lock held (taken in the claim's transaction, before that
    commits: a kill then would roll the claim back and count nothing)."""
    status, attempts, _ = _rows(engine)[row_id]
    claimed = status == "pending" and attempts == 1
    return claimed and (engine.dialect.name != "postgresql" or _lock_held(engine, row_id))


def test_a_worker_killed_mid_job_leaves_it_to_the_next_which_does_it_once(
    node: tuple[dict[str, str], Engine], tmp_path: Path
) -> None:
    env, engine = node
    rows = _rows(engine)
    assert len(rows) == 2 and all(r[:2] == ("pending", 0) for r in rows.values()), rows
    first = min(rows)
    case_id = rows[first][2]

    worker = Process(["prereview", "work", "--interval", "0.2"], env, tmp_path / "w1.log").start()
    try:
        until(lambda: _claim_held(engine, first), 60, "the worker to claim the first pre-review")
        worker.kill()
    finally:
        worker.stop()
    # Killed in the middle: claimed and counted, nothing recorded, nothing told.
    status, attempts, _ = _rows(engine)[first]
    assert (status, attempts) == ("pending", 1), (status, attempts, worker.tail())
    assert _effects(engine, case_id) == (0, 0)
    # Its claim went with it (the server dropped the dead worker's connection).
    if engine.dialect.name == "postgresql":
        until(lambda: not _lock_held(engine, first), 10, "the killed worker's lock to go")

    out = run(env, "prereview", "work", "--once")
    assert "2 pre-reviews done, 0 failed" in out, out
    after = _rows(engine)
    assert after[first][:2] == ("done", 2), after  # the killed attempt counts
    others = [r for i, r in after.items() if i != first]
    assert all(r[:2] == ("done", 1) for r in others), after
    for _, _, case in after.values():
        lines, told = _effects(engine, case)
        assert lines == 1 and told <= 1, (case, lines, told)
    with engine.connect() as conn:
        verdict = conn.scalar(select(Prereview.verdict).where(Prereview.id == first))
    # The case whose documents disagree with its form is told of it once, the other not at all.
    assert _effects(engine, case_id) == (1, 1 if verdict == "needs_correction" else 0)


def test_two_workers_at_once_never_run_the_same_pre_review(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    if backend != "postgres":
        pytest.skip("several workers run on PostgreSQL (SQLite has one writer)")
    env, engine = request.getfixturevalue("node")
    workers = [
        Process(["prereview", "work", "--once"], env, tmp_path / f"w{i}.log").start()
        for i in range(2)
    ]
    for w in workers:
        assert w.wait(120) == 0, w.tail()
    after = _rows(engine)
    assert all(r[:2] == ("done", 1) for r in after.values()), after
    for _, _, case in after.values():
        assert _effects(engine, case)[0] == 1
