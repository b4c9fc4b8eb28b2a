"""Strict queries: a query parameter a route does not take is a 422 naming it, never ignored.

A misspelt filter (`capacityId=` for `capacity_id=`, `evnt=`) would otherwise widen the answer
silently: a client would read the whole market, or an event stream that never says what it dropped.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from backend.api.errors import ApiError

_taken: dict[int, frozenset[str]] = {}  # id(route) -> the query parameters it declares


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def known_query_only(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    taken = _taken.get(id(route))
    if taken is None:
        taken = _taken[id(route)] = frozenset(_query_names(route.dependant))
    unknown = sorted(set(request.query_params) - taken)
    if unknown:
        takes = ", ".join(sorted(taken)) or "none"
        raise ApiError(
            422,
            "invalid_request",
            f"unknown query parameter(s) {', '.join(unknown)}; this route takes: {takes}",
        )
