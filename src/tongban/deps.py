"""Request-scoped dependencies: one database transaction per request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from tongban.db import transaction


def get_session(request: Request) -> Iterator[Session]:
    """Commit when the handler returns, roll back everything when it raises."""
    with transaction(request.app.state.sessions) as session:
        yield session


# scope="function": the transaction ends before the response is sent, so a failed commit
# becomes an error response instead of a 200 for something that was never stored.
DbSession = Annotated[Session, Depends(get_session, scope="function")]
