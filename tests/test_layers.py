"""Layers import only downward: backend/chain knows no settings and nothing else of the backend; the
market layer (backend/market) knows neither the API nor the tasks above it; the tasks never import the
API."""

from __future__ import annotations

import ast
from pathlib import Path

from backend.chain.deployments import REPO_ROOT


def imported_modules(package: str) -> dict[str, set[str]]:
    """Every module a package's files import (at any depth, TYPE_CHECKING blocks included), by file."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO_ROOT / package).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(Path(path).relative_to(REPO_ROOT))] = names
    return found


def reaching_into(package: str, allowed: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{file} imports {name}"
        for file, names in imported_modules(package).items()
        for name in sorted(names)
        if name.startswith(forbidden) and not name.startswith(allowed)
    ]


def test_chain_layer_imports_nothing_of_the_backend_above_it() -> None:
    assert reaching_into("backend/chain", ("backend.chain",), ("backend", "oracle")) == []


def test_the_oracle_uses_only_the_chain_layer_of_the_backend() -> None:
    assert reaching_into("oracle", ("backend.chain",), ("backend",)) == []


def test_the_market_layer_imports_neither_the_api_nor_the_tasks() -> None:
    assert reaching_into("backend/market", (), ("backend.api", "backend.tasks")) == []


def test_tasks_never_import_the_api() -> None:
    assert reaching_into("backend/tasks", (), ("backend.api",)) == []
