"""Domain errors and their RFC 9457 problem+json form.

Every error a client can cause has a stable `code`, a Chinese `title`, an English `title_en`
and, where it is about input, `errors[]` naming each field. Unknown routes, bad parameters and
bad bodies end here too, so no client input reaches a 500.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str
    code: str = "invalid"

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


@dataclass
class DomainError(Exception):
    code: str
    title: str
    title_en: str
    status: int = 400
    detail: str | None = None
    errors: list[FieldError] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.title_en)

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://tongban.dev/problems/{self.code}",
            "code": self.code,
            "title": self.title,
            "title_en": self.title_en,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body["errors"] = [e.as_dict() for e in self.errors]
        body.update(self.extra)
        return body


class NotFound(DomainError):
    def __init__(self, code: str, title: str, title_en: str, detail: str | None = None) -> None:
        super().__init__(code=code, title=title, title_en=title_en, status=404, detail=detail)


def validation_failed(errors: list[FieldError], detail: str | None = None) -> DomainError:
    return DomainError(
        code="validation_failed",
        title="请求参数有误",
        title_en="The request is not valid",
        status=422,
        detail=detail,
        errors=errors,
    )


# How long a client should wait before trying again (the Retry-After header, in seconds): a
# restarted database server is usually back within seconds; a lock is released sooner.
UNAVAILABLE_RETRY_S = 5
BUSY_RETRY_S = 2


def database_unavailable() -> DomainError:
    """The database does not answer (stopped, restarting, unreachable): nothing was done, the
    same request may be sent again."""
    return DomainError(
        code="database_unavailable",
        title="数据库暂时无法连接，请稍后再试",
        title_en="The database is unavailable; please try again shortly",
        status=503,
        extra={"retry_after": UNAVAILABLE_RETRY_S},
    )


def database_busy() -> DomainError:
    """The database answers but could not do the work in time (a lock held too long, a
    deadlock, a statement timeout): nothing was done, the same request may be sent again."""
    return DomainError(
        code="database_busy",
        title="数据库繁忙，请稍后再试",
        title_en="The database is busy; please try again shortly",
        status=503,
        extra={"retry_after": BUSY_RETRY_S},
    )
