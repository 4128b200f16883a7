"""A PostgreSQL streaming replica for reads that may be a few seconds old.

The catalog (search, guides, departments, halls) is most of a city's traffic and changes a few
times a day, so it can be read from a replica and take that load off the primary. Everything
a person does (an application, a login, a scan) stays on the primary: they must read what they
have just written.

The replica is used only while it answers and is at most `read_max_lag_seconds` behind; its
state is checked at most every few seconds, by one thread while the others go on with the last
answer. When it is away or behind, the reads go to the primary, so a replica that is down is a
slower city, never an unavailable one.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tongban.db import make_engine, make_sessionmaker

log = logging.getLogger(__name__)

RECHECK_SECONDS = 5.0
# A dead host must not hold a request for the default connect timeout (no limit in libpq).
CONNECT_TIMEOUT_SECONDS = 2

# Lag is zero when everything received is replayed (an idle primary sends nothing, so the last
# replayed commit's age alone would read as lag); otherwise the age of the last replayed commit.
LAG_SQL = text(
    "SELECT pg_is_in_recovery(), CASE"
    " WHEN NOT pg_is_in_recovery() THEN 0"
    " WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
)


@dataclass(frozen=True)
class ReplicaState:
    usable: bool
    lag_seconds: float | None
    reason: str  # "ok", "behind", "unreachable"
    in_recovery: bool | None = None  # False: not a standby at all (a primary, or promoted)


def replica_state(engine: Engine, max_lag_seconds: float) -> ReplicaState:
    """Ask the replica how far behind it is (one short query)."""
    try:
        with engine.connect() as conn:
            in_recovery, lag = conn.execute(LAG_SQL).one()
    except (OperationalError, DBAPIError) as exc:
        log.warning("read replica unreachable: %s", type(exc.orig or exc).__name__)
        return ReplicaState(False, None, "unreachable")
    lag_seconds = float(lag)
    if lag_seconds > max_lag_seconds:
        return ReplicaState(False, lag_seconds, "behind", bool(in_recovery))
    return ReplicaState(True, lag_seconds, "ok", bool(in_recovery))


class ReadReplica:
    """The replica's engine, its sessions, and whether to use it now."""

    def __init__(self, url: str, max_lag_seconds: float, pool_size: int = 10) -> None:
        self.engine = make_engine(
            url,
            pool_size=pool_size,
            max_overflow=0,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
        )
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)
        self.max_lag_seconds = max_lag_seconds
        self._state = ReplicaState(False, None, "unchecked")
        self._checked_at = float("-inf")
        self._checking = threading.Lock()

    @property
    def state(self) -> ReplicaState:
        return self._state

    def usable(self) -> bool:
        """Whether a read should go to the replica now (blocking: call it from a thread)."""
        if time.monotonic() - self._checked_at >= RECHECK_SECONDS and self._checking.acquire(
            blocking=False
        ):
            try:
                self._record(replica_state(self.engine, self.max_lag_seconds))
            finally:
                self._checking.release()
        return self._state.usable

    def failed(self) -> None:
        """A read on the replica failed on its connection: send reads to the primary until the
        next check finds it back."""
        self._record(ReplicaState(False, None, "unreachable"))

    def _record(self, state: ReplicaState) -> None:
        if state.usable != self._state.usable:
            log.warning("read replica %s", "in use" if state.usable else f"left: {state.reason}")
        self._state = state
        self._checked_at = time.monotonic()

    def dispose(self) -> None:
        self.engine.dispose()


def read_replica_for(url: str | None, max_lag_seconds: float) -> ReadReplica | None:
    return ReadReplica(url, max_lag_seconds) if url else None
