"""Request-scoped dependencies: one database transaction per request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from tongban.db import transaction
from tongban.errors import DomainError


def get_session(request: Request) -> Iterator[Session]:
    """Commit when the handler returns, roll back everything when it raises."""
    with transaction(request.app.state.sessions) as session:
        yield session


# scope="function": the transaction ends before the response is sent, so a failed commit
# becomes an error response instead of a 200 for something that was never stored.
DbSession = Annotated[Session, Depends(get_session, scope="function")]

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
