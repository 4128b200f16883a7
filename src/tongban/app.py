"""The FastAPI application: routers, error handlers, health checks, static files."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, text
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tongban import __version__
from tongban.access import PUBLIC
from tongban.cases import api as cases_api
from tongban.cases import pages as cases_pages
from tongban.cases import staff_pages as cases_staff_pages
from tongban.cases.files import FileStore
from tongban.catalog import admin_pages as catalog_admin_pages
from tongban.catalog import api as catalog_api
from tongban.catalog import pages as catalog_pages
from tongban.catalog.search import init_segmenter
from tongban.common.logging import install as install_log_masking
from tongban.common.ratelimit import RateLimiter
from tongban.crypto import api as crypto_api
from tongban.crypto.keys import keyring_for
from tongban.crypto.service import KeyUnavailable
from tongban.crypto.signing import SigningKeys
from tongban.dashboard import api as dashboard_api
from tongban.dashboard import pages as dashboard_pages
from tongban.db import make_engine, make_sessionmaker
from tongban.deps import DbSlots
from tongban.errors import (
    PROBLEM_JSON,
    DomainError,
    FieldError,
    database_busy,
    database_unavailable,
    validation_failed,
)
from tongban.federation import api as federation_api
from tongban.federation import pages as federation_pages
from tongban.federation.peers import make_federation
from tongban.idcode import api as idcode_api
from tongban.idcode import pages as idcode_pages
from tongban.idcode.keys import CodeKeys
from tongban.idcode.scenes import load_scenes
from tongban.idcode.service import HOLDINGS, Codes
from tongban.identity import api as identity_api
from tongban.identity import pages as identity_pages
from tongban.identity.service import settled_region
from tongban.industry import api as industry_api
from tongban.industry import pages as industry_pages
from tongban.licenses import api as licenses_api
from tongban.licenses import pages as licenses_pages
from tongban.licenses import service as licenses_service
from tongban.licenses.service import Registry
from tongban.migrate import is_current
from tongban.notify import api as notify_api
from tongban.onething import api as onething_api
from tongban.onething import pages as onething_pages
from tongban.portal.rendering import STATIC_DIR, render_error_page, wants_html
from tongban.prereview import api as prereview_api
from tongban.prereview import pages as prereview_pages
from tongban.ratings import api as ratings_api
from tongban.ratings import pages as ratings_pages
from tongban.replica import read_replica_for
from tongban.settings import Settings, files_dir_for, get_settings
from tongban.workdays import api as workdays_api

log = logging.getLogger("tongban")

_HTTP_ERRORS = {
    400: ("bad_request", "请求无法处理", "Bad request"),
    404: ("not_found", "页面或资源不存在", "Not found"),
    405: ("method_not_allowed", "不支持该请求方法", "Method not allowed"),
}


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    install_log_masking(settings.log_level)
    engine = engine or make_engine(settings.database_url)
    settings = settled_region(settings, engine)
    init_segmenter(settings.search_cache_dir)
    app = FastAPI(
        title="通办 Tongban",
        version=__version__,
        description="一网通办 government services platform: catalog, guides and search.",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.db_slots = DbSlots(engine)
    app.state.read_replica = read_replica_for(
        settings.read_database_url, settings.read_max_lag_seconds
    )
    if app.state.read_replica is not None:
        app.state.read_slots = DbSlots(app.state.read_replica.engine)
    app.state.keyring = _keyring_or_none(settings)
    app.state.signing = SigningKeys(settings, app.state.keyring) if app.state.keyring else None
    app.state.codes = _codes_or_none(settings, app.state.signing)
    app.state.licenses = (
        Registry(settings, app.state.signing.keyring, app.state.signing)
        if app.state.signing
        else None
    )
    app.state.login_limiter = RateLimiter(settings.login_rate_per_minute)
    app.state.peer_verify_limiter = RateLimiter(settings.peer_verify_rate_per_minute)
    app.state.federation_limiter = RateLimiter(settings.federation_rate_per_minute)
    app.state.files = FileStore(files_dir_for(settings))
    app.state.federation = (
        make_federation(settings, app.state.licenses, app.state.files)
        if app.state.licenses
        else None
    )
    _install_error_handlers(app)
    _install_health(app)
    app.include_router(catalog_api.router, dependencies=[Depends(PUBLIC)])
    app.include_router(catalog_pages.router, dependencies=[Depends(PUBLIC)])
    app.include_router(catalog_admin_pages.router)
    app.include_router(identity_api.router)
    app.include_router(identity_pages.router)
    app.include_router(crypto_api.router)
    app.include_router(idcode_api.router)
    app.include_router(idcode_pages.router)
    app.include_router(licenses_api.router)
    app.include_router(licenses_pages.router)
    app.include_router(workdays_api.router)
    app.include_router(cases_api.router)
    app.include_router(cases_pages.router)
    app.include_router(cases_staff_pages.router)
    app.include_router(notify_api.router)
    app.include_router(onething_api.router)
    app.include_router(onething_pages.router)
    app.include_router(industry_api.router)
    app.include_router(industry_pages.router)
    app.include_router(prereview_api.router)
    app.include_router(prereview_pages.router)
    app.include_router(ratings_api.router)
    app.include_router(ratings_pages.router)
    app.include_router(federation_api.router)
    app.include_router(federation_pages.router)
    app.include_router(dashboard_api.router)
    app.include_router(dashboard_pages.router)
    # A hall check-in shows the window the holder's licenses (one-stop service).
    HOLDINGS["licenses"] = lambda session, who: licenses_service.holdings(
        session, who.person_id, who.enterprise_id
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Outermost last: hosts are checked first, then HEAD is served as a GET without a body.
    app.add_middleware(SecurityHeadersMiddleware)
    # A material of the largest allowed size, plus the multipart envelope.
    app.add_middleware(
        RejectNulMiddleware,
        upload_limit=(settings.max_upload_mb + 1) << 20,
        large={"/api/v1/federation/messages": settings.federation_max_message_mb << 20},
    )
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts)
    return app


def _keys_ready(app: FastAPI) -> str:
    """Whether the KEK opens every data key: a process given the wrong KEK (a restore with
    another node's, a secret store out of step after `keys rewrap`) must stay out of rotation
    rather than answer every personal request with an error. Checked until it succeeds once;
    a node without a KEK serves the catalog only, by design, and is ready for that."""
    if app.state.keyring is None:
        return "none"
    if getattr(app.state, "keys_opened", False):
        return "ok"
    try:
        with app.state.sessions() as session:
            app.state.keyring.open_all(session)
    except KeyUnavailable as exc:
        return f"unavailable: {exc}"
    app.state.keys_opened = True
    return "ok"


def _keyring_or_none(settings: Settings) -> Any:
    """Personal data needs the KEK; without one the catalog still serves, identity says 503."""
    try:
        return keyring_for(settings)
    except KeyUnavailable:
        log.warning("no key-encryption key configured: personal data is unavailable")
        return None


def _codes_or_none(settings: Settings, signing: SigningKeys | None) -> Codes | None:
    """Codes need keys to sign with; the scene registry is checked whole before we serve."""
    scenes = load_scenes(settings.scenes_file)
    if signing is None:
        return None
    return Codes(settings, signing.keyring, CodeKeys(signing), scenes)


_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    ),
]


class SecurityHeadersMiddleware:
    """The same protective headers on every response (pages need no inline script or style)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in _SECURITY_HEADERS if k not in present]
                if scope.get("scheme") == "https":
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class HeadAsGetMiddleware:
    """Answer HEAD like GET without the body (probes and link checkers send HEAD)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_without_body)


_BODY_LIMIT = 1024 * 1024


def _content_type(scope: Scope) -> bytes:
    """The Content-Type header as sent: a multipart boundary is case-sensitive (browsers send
    mixed case, `----WebKitFormBoundaryKZZJ7qAZ…`), so only the media type may be lowered."""
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return bytes(value)
    return b""


# A NUL as sent in a body: raw, JSON-escaped, or form-encoded.
_NUL_FORMS = (b"\x00", b"\\u0000", b"%00")


class RejectNulMiddleware:
    """A NUL byte is never meaningful in a path, query or form, and PostgreSQL refuses it in text.

    Bodies up to 1 MiB are read whole to look for one (they are small JSON and forms) and then
    handed on unchanged; a larger body is refused with 413. A multipart upload (a photo of a
    code, a case's material) may be up to the upload limit; its text fields are searched, its
    files are not (binary files hold NULs).
    """

    def __init__(
        self, app: ASGIApp, upload_limit: int = 9 << 20, large: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.upload_limit = upload_limit
        # Paths whose JSON bodies may be larger (a peer region's message carries its files).
        self.large = large or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        if b"\x00" in unquote_to_bytes(raw) or b"\x00" in unquote_to_bytes(query):
            await _refuse(scope, receive, send, 400, "NUL bytes are not allowed in a request")
            return
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        multipart = _content_type(scope).lower().startswith(b"multipart/form-data")
        limit = self.upload_limit if multipart else self.large.get(scope["path"], _BODY_LIMIT)
        received, more = bytearray(), True
        while more:
            message = await receive()
            received += message.get("body", b"")
            more = message.get("more_body", False)
            if len(received) > limit:
                await _refuse(
                    scope, receive, send, 413, f"the request body is larger than {limit >> 20} MiB"
                )
                return
        body = bytes(received)
        # Multipart text arrives raw (no JSON or URL escapes to look through).
        searched = _text_parts(body, _content_type(scope)) if multipart else body
        if any(form in searched for form in ((b"\x00",) if multipart else _NUL_FORMS)):
            await _refuse(scope, receive, send, 400, "NUL bytes are not allowed in a request")
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _text_parts(body: bytes, content_type: bytes) -> bytes:
    """The fields of a multipart body that are not files, joined: where a NUL is never
    meaningful (files may hold any bytes). A body that cannot be split is left to the parser."""
    at = content_type.lower().find(b"boundary=")  # the parameter's name is case-insensitive
    boundary = content_type[at + len(b"boundary=") :] if at >= 0 else b""
    boundary = boundary.split(b";")[0].strip().strip(b'"')
    if not boundary:
        return b""
    texts = []
    for part in body.split(b"--" + boundary):
        head, sep, content = part.partition(b"\r\n\r\n")
        if sep and b"filename=" not in head.lower():
            texts.append(content)
    return b"\n".join(texts)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
    code = "bad_request" if status == 400 else "payload_too_large"
    error = DomainError(
        code=code,
        title="请求中含有无效字符" if status == 400 else "请求内容过大",
        title_en="The request contains an invalid character"
        if status == 400
        else "Request too large",
        status=status,
        detail=detail,
    )
    response = JSONResponse(error.problem(), status_code=status, media_type=PROBLEM_JSON)
    await response(scope, receive, send)


def problem_response(
    error: DomainError, request: Request, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        error.problem(instance=request.url.path),
        status_code=error.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _field_name(loc: tuple[Any, ...]) -> str:
    # FastAPI locations are ("query", "size") or ("body", "x", 0): name the field, not the part.
    parts = [str(p) for p in loc if p not in ("query", "path", "body", "header", "cookie")]
    return ".".join(parts) or "request"


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        if wants_html(request) and exc.status == 401:
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        if wants_html(request):
            return render_error_page(request, exc.status, exc.title, exc.detail, exc.title_en)
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            FieldError(
                field=_field_name(tuple(e["loc"])), message=str(e["msg"]), code=str(e["type"])
            )
            for e in exc.errors()
        ]
        error = validation_failed(errors)
        if wants_html(request):
            fields = "、".join(e.field for e in errors)
            return render_error_page(request, 422, error.title, f"请检查：{fields}", error.title_en)
        return problem_response(error, request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code, title, title_en = _HTTP_ERRORS.get(
            exc.status_code, ("http_error", "请求无法处理", "Request failed")
        )
        if wants_html(request):
            return render_error_page(request, exc.status_code, title, None, title_en)
        error = DomainError(code=code, title=title, title_en=title_en, status=exc.status_code)
        # Keep the headers the router set (Allow on a 405).
        return problem_response(error, request, headers=dict(exc.headers or {}))

    async def database_error(request: Request, exc: Exception) -> Response:
        error = database_problem(exc)
        if error is None:  # a mistake in our SQL, not the database's state
            return _internal_error(request)
        log.warning(
            "%s on %s %s: %s", error.code, request.method, request.url.path, _first_line(exc)
        )
        headers = {"Retry-After": str(error.extra["retry_after"])}
        if wants_html(request):
            page = render_error_page(request, error.status, error.title, None, error.title_en)
            page.headers.update(headers)
            return page
        return problem_response(error, request, headers=headers)

    for database_exception in _DATABASE_EXCEPTIONS:
        app.add_exception_handler(database_exception, database_error)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        return _internal_error(request)


def _internal_error(request: Request) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    error = DomainError(
        code="internal_error",
        title="系统繁忙，请稍后再试",
        title_en="Internal error",
        status=500,
    )
    if wants_html(request):
        return render_error_page(request, 500, error.title, None, error.title_en)
    return problem_response(error, request)


# What the database's state (not our code) raises: it is down, restarting, unreachable, or
# holds a lock too long. Answered 503 with Retry-After, so clients and balancers try again.
_DATABASE_EXCEPTIONS: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # no pooled connection came free in time
)
# PostgreSQL: serialization failure, deadlock, lock not available, statement timeout.
_BUSY_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57014"})
# SQLite's own codes for a database that cannot be used at all (the rest of its
# OperationalErrors are mistakes in a statement: no such table, a syntax error).
_SQLITE_UNAVAILABLE = ("SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_NOTADB", "SQLITE_CORRUPT")


def database_problem(exc: BaseException) -> DomainError | None:
    """The problem to answer for a database exception: busy (retry soon), unavailable (retry
    in a few seconds), or None when the statement itself is wrong (a 500 and a log entry)."""
    if isinstance(exc, sa_exc.TimeoutError):
        return database_busy()
    if isinstance(exc, sa_exc.DisconnectionError):
        return database_unavailable()
    orig = getattr(exc, "orig", None)
    sqlite_code = str(getattr(orig, "sqlite_errorname", "") or "")
    if sqlite_code:
        if sqlite_code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return database_busy()
        if sqlite_code.startswith(_SQLITE_UNAVAILABLE):
            return database_unavailable()
        return None
    if getattr(orig, "sqlstate", None) in _BUSY_SQLSTATES:
        return database_busy()
    return database_unavailable()


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0][:200]


def _install_health(app: FastAPI) -> None:
    @app.get(
        "/healthz",
        tags=["health"],
        summary="Liveness: the process answers",
        dependencies=[Depends(PUBLIC)],
    )
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        summary="Readiness: database reachable, migrations current, the KEK opens the keys",
        dependencies=[Depends(PUBLIC)],
    )
    def readyz(request: Request) -> JSONResponse:
        engine: Engine = request.app.state.engine
        checks: dict[str, str] = {}
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
            checks["migrations"] = "ok" if is_current(engine) else "pending"
        except Exception as exc:  # any failure to reach the database means "not ready"
            checks["database"] = f"unavailable: {type(exc).__name__}"
        if checks.get("migrations") == "ok":
            checks["keys"] = _keys_ready(request.app)
        ready = all(v == "ok" or (k, v) == ("keys", "none") for k, v in checks.items())
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )
