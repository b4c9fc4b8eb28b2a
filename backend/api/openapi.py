"""The OpenAPI document as served: FastAPI's, with the numbers made exact and the settings filled in.

FastAPI passes the document through its OpenAPI model, which reads every numeric bound as a float:
`maximum: 2**256 - 1` comes out as 1.157920892373162e+77, which is above 2^256 - 1, so a client that
trusts it sends a value the server refuses. The bounds are put back as the integers the shared types
declare (schemas/types.py), each page size gets the server's `api_page_max` as its maximum, and
optional parameters lose the JSON null FastAPI offers for them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from backend.api.schemas.types import EXACT_BOUNDS, PAGE_MAX

_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_EXACT = {float(b): b for b in EXACT_BOUNDS}
_FLOAT_EXACT_BELOW = 2**53


def _exact(value: Any) -> Any:
    if not isinstance(value, float) or not value.is_integer():
        return value
    if abs(value) < _FLOAT_EXACT_BELOW:
        return int(value)
    return _EXACT.get(value, value)


def _fix(node: Any, page_max: int) -> None:
    if isinstance(node, dict):
        for key in _BOUNDS:
            if key in node:
                node[key] = _exact(node[key])
        if node.pop(PAGE_MAX, False):
            node["maximum"] = page_max
        for value in node.values():
            _fix(value, page_max)
    elif isinstance(node, list):
        for value in node:
            _fix(value, page_max)


def _never_null(doc: dict[str, Any]) -> None:
    """A parameter in a path, query or header is there or not; it cannot be JSON null, which FastAPI
    offers for every optional one (`anyOf: [X, {type: null}]`)."""
    for operation in (op for ops in doc.get("paths", {}).values() for op in ops.values()):
        for parameter in operation.get("parameters", []):
            schema = parameter.get("schema", {})
            branches = schema.get("anyOf", [])
            if {"type": "null"} in branches:
                rest = [b for b in branches if b != {"type": "null"}]
                del schema["anyOf"]
                if len(rest) == 1:
                    schema.update(rest[0])
                else:
                    schema["anyOf"] = rest


def install(app: FastAPI, page_max: int) -> None:
    """Serve the document with exact integer bounds and `page_max` on every page size."""

    def openapi() -> dict[str, Any]:
        doc = FastAPI.openapi(app)  # FastAPI's own, built once and kept; fixing it again changes nothing
        _fix(doc, page_max)
        _never_null(doc)
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
