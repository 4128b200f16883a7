"""How one node reaches another: JSON over HTTP(S). Behind a small interface so tests can
join nodes in one process, and a deployment can add its own TLS settings or a gateway."""

from __future__ import annotations

import json
from typing import Any, Protocol

import httpx


class TransportError(Exception):
    """The peer could not be reached or did not answer in time: try again later."""


class Transport(Protocol):
    def get(self, url: str, *, timeout: float) -> tuple[int, Any]:
        """(HTTP status, the JSON answer)."""
        ...

    def post(self, url: str, body: bytes, *, timeout: float) -> tuple[int, Any]: ...


class HttpTransport:
    """httpx with a connection pool per process; answers that are not JSON count as no
    answer (a proxy's error page, a half-closed connection)."""

    def __init__(self, verify: bool | str = True) -> None:
        self._client = httpx.Client(
            verify=verify,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            headers={"user-agent": "tongban-federation/1", "accept": "application/json"},
        )

    def get(self, url: str, *, timeout: float) -> tuple[int, Any]:
        return self._call("GET", url, None, timeout)

    def post(self, url: str, body: bytes, *, timeout: float) -> tuple[int, Any]:
        return self._call("POST", url, body, timeout)

    def _call(self, method: str, url: str, body: bytes | None, timeout: float) -> tuple[int, Any]:
        try:
            response = self._client.request(
                method,
                url,
                content=body,
                headers={"content-type": "application/json"} if body is not None else None,
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        try:
            return response.status_code, response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TransportError(f"HTTP {response.status_code}, not JSON") from exc

    def close(self) -> None:
        self._client.close()
