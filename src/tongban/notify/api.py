"""HTTP API of the inbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from tongban.access import AUTHENTICATED
from tongban.deps import DbSession, RowId
from tongban.identity.service import Principal
from tongban.notify import service
from tongban.notify.models import Message

router = APIRouter(prefix="/api/v1", tags=["inbox 消息"])


class MessageOut(BaseModel):
    id: int
    topic: str
    title: str
    body: str
    at: str
    read: bool


def _out(m: Message) -> MessageOut:
    return MessageOut(
        id=m.id,
        topic=m.topic,
        title=m.title,
        body=m.body,
        at=m.created_at.isoformat(),
        read=m.read_at is not None,
    )


@router.get("/me/inbox", response_model=list[MessageOut], summary="My messages, newest first")
def my_inbox(
    db: DbSession, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> list[MessageOut]:
    return [_out(m) for m in service.inbox(db, principal.person_id)]


@router.post(
    "/me/inbox/{message_id}/read", response_model=MessageOut, summary="Mark a message read"
)
def read(
    db: DbSession, message_id: RowId, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> MessageOut:
    return _out(service.mark_read(db, principal.person_id, message_id))
