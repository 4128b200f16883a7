"""Every route an app answers, as the requests see it.

FastAPI keeps an included router as one entry of `app.routes` and builds its routes, with the
dependencies given at inclusion (a router's access rule), lazily; `iter_route_contexts` gives
each of them with its whole dependency tree. A walk over `app.routes` alone would see only
the app's own few routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import RouteContext, iter_route_contexts


def api_routes(app: FastAPI) -> Iterator[RouteContext]:
    """Each route with a dependency tree (not the static files mount or the docs pages)."""
    for route in iter_route_contexts(app.routes):
        if getattr(route, "dependant", None) is not None:
            yield route


def depends_on(route: RouteContext, wanted: Callable[[Any], bool]) -> list[Any]:
    """The callables of the route's dependency tree for which `wanted` is true."""
    found = []
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if wanted(dep.call):
            found.append(dep.call)
        stack.extend(dep.dependencies)
    return found
