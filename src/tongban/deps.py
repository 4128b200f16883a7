"""Request-scoped dependencies: one database transaction per request."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any

from anyio import CapacityLimiter
from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from tongban.errors import DomainError
from tongban.replica import ReadReplica


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request: commit when the handler returns, roll back everything when
    it raises."""
    async with _primary_session(request) as session:
        yield session


@asynccontextmanager
async def _primary_session(request: Request) -> AsyncIterator[Session]:
    """A request takes one of a fixed number of database slots, waiting for it in the event loop
    rather than in a worker thread. Otherwise, under load, every worker thread can end up
    waiting for a pooled connection (or SQLite's write lock) while the requests that hold them
    wait for a free thread to finish in, until the pool's timeout fails them all. With at most
    as many requests in the database as the pool has connections, and fewer than there are
    threads, a holder always finds a thread.
    """
    async with request.app.state.db_slots.limiter():
        session = request.app.state.sessions()
        try:
            yield session
            await run_in_threadpool(session.commit)
        except BaseException:
            await run_in_threadpool(session.rollback)
            raise
        finally:
            await run_in_threadpool(session.close)


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    """A session for reads that may be seconds old: on the read replica while it answers and
    keeps up (tongban.replica), else on the primary. Only for routes that use no other
    database session, so a request never waits for a second slot while it holds one."""
    replica: ReadReplica | None = request.app.state.read_replica
    if replica is None or not await run_in_threadpool(replica.usable):
        async with _primary_session(request) as session:
            yield session
        return
    async with request.app.state.read_slots.limiter():
        session = replica.sessions()
        try:
            yield session
        except (OperationalError, InterfaceError):
            replica.failed()  # the next reads go to the primary; this one answers 503
            raise
        finally:
            await run_in_threadpool(session.close)  # a replica is read-only: nothing to commit


# scope="function": the transaction ends before the response is sent, so a failed commit
# becomes an error response instead of a 200 for something that was never stored.
DbSession = Annotated[Session, Depends(get_session, scope="function")]
ReadSession = Annotated[Session, Depends(get_read_session, scope="function")]


class DbSlots:
    """How many requests may be in the database at once: as many as the pool has connections,
    and always fewer than the worker threads (anyio's default is 40). One limiter per event
    loop (a test client may run requests on loops of their own)."""

    def __init__(self, engine: Any, threads: int = 40) -> None:
        pool = engine.pool
        size = getattr(pool, "size", 5)  # a method of QueuePool, a number of some others
        size = int(size() if callable(size) else size) + max(0, getattr(pool, "_max_overflow", 0))
        self.total = max(1, min(size, threads - 8))
        self._limiters: weakref.WeakKeyDictionary[Any, CapacityLimiter] = (
            weakref.WeakKeyDictionary()
        )

    def limiter(self) -> CapacityLimiter:
        loop = asyncio.get_running_loop()
        found = self._limiters.get(loop)
        if found is None:
            found = self._limiters[loop] = CapacityLimiter(self.total)
        return found


# A row id in a path: within PostgreSQL's integer, so a huge number is a 422, not a 500.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@contextmanager
def kept_on_refusal(session: Session) -> Iterator[None]:
    """Commit what the service recorded even though it refuses the request.

    For refusals that must leave a trace: a failed login's count and audit entry (or lockout
    would never trigger), a reused refresh token's revoked family. Other errors roll back.
    """
    try:
        yield
    except DomainError:
        session.commit()
        raise
