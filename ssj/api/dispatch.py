"""Exact paths straight to their router: the app's router without the walk.

FastAPI's router tries its routes in order, and each included router tries all of its own: a
request for `PUT /targets` or `POST /conflicts/declarations` was matched against about 90
routes before its own (a tenth of the API's CPU under the write mix). `ExactPaths` stands in
the router's place. For every method and parameterless path the app serves, it has asked the
router's walk once, at start, which of its routes answers first; a request for one of those
goes to that included router at once (which selects its route as it always did), every other
request walks as before. The answer is the walk's own, so nothing a client sees changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRouter
from starlette.routing import BaseRoute, Host, Match
from starlette.types import Receive, Scope, Send


def _exact_keys(router: APIRouter) -> Iterator[tuple[str, str]]:
    """(method, path) of each parameterless route of the included routers."""
    for route in router.routes:
        contexts = getattr(route, "effective_route_contexts", None)  # an included router
        if contexts is None:
            continue
        for context in contexts():
            path = getattr(context, "path", None)
            if isinstance(path, str) and path and "{" not in path:
                for method in getattr(context, "methods", None) or ():
                    yield method, path


def _first_full(router: APIRouter, method: str, path: str) -> BaseRoute | None:
    """The route the walk would hand `method path` to (None: no full match)."""
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "headers": [],
        "query_string": b"",
    }
    for route in router.routes:
        match, _ = route.matches(dict(scope))
        if match == Match.FULL:
            return route
    return None


class ExactPaths:
    """The router's walk, but for requests whose method and path the table knows."""

    def __init__(self, router: APIRouter, table: dict[tuple[str, str], BaseRoute]) -> None:
        self.router = router
        self.walk = router.middleware_stack
        self.table = table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            route = self.table.get((scope["method"], scope["path"]))
            if route is not None:
                # What the walk does for an included router that matches: its child scope is
                # empty and it is not a selected route of its own; it selects within itself.
                if "router" not in scope:
                    scope["router"] = self.router
                await route.handle(scope, receive, send)
                return
        await self.walk(scope, receive, send)


def install(router: APIRouter) -> None:
    """Put `ExactPaths` in the router's place, once its routes are all included (at start).
    Only where the walk is the router's bare `app` (no router middleware, no form limits, no
    host routes, whose match depends on a header), and only for included routers (a route of
    the router's own would need the walk's scope)."""
    if isinstance(router.middleware_stack, ExactPaths):
        return
    if router.middleware_stack != router.app or getattr(router, "form_limits", None):
        return
    if any(isinstance(route, Host) for route in router.routes):
        return
    table: dict[tuple[str, str], BaseRoute] = {}
    for method, path in _exact_keys(router):
        route = _first_full(router, method, path)
        if route is not None and hasattr(route, "original_router"):
            table[(method, path)] = route
    router.middleware_stack = ExactPaths(router, table)
