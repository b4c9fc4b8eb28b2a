"""Layers import only downward: backend/chain knows no settings and nothing else of the backend; the
market layer (backend/market) knows neither the API nor the tasks above it; the tasks never import the
API. In the oracle, the protocol package is under the three deployables (agent, node, aggregator),
which never import one another, and the command line and the in-process round over them all."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from backend.chain.deployments import REPO_ROOT


def imported_modules(package: str) -> dict[str, set[str]]:
    """Every module a package's files (or one module) import, at any depth, TYPE_CHECKING blocks included."""
    root = REPO_ROOT / package
    paths = [root] if root.is_file() else sorted(root.rglob("*.py"))
    assert paths, f"{package} has no Python files: a rule over it would hold vacuously"
    found: dict[str, set[str]] = {}
    for path in paths:
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


ORACLE_DEPLOYABLES = ("oracle.agent", "oracle.node", "oracle.aggregator")
ORACLE_TOP = ("oracle.cli", "oracle.embedded")  # compose the deployables; nothing imports them


def test_oracle_protocol_imports_no_deployable() -> None:
    assert reaching_into("oracle/protocol", (), ORACLE_DEPLOYABLES + ORACLE_TOP) == []


def test_oracle_settings_import_nothing_of_the_oracle() -> None:
    assert reaching_into("oracle/settings.py", (), ("oracle.",)) == []


@pytest.mark.parametrize("deployable", ORACLE_DEPLOYABLES)
def test_an_oracle_deployable_imports_no_other(deployable: str) -> None:
    others = tuple(d for d in ORACLE_DEPLOYABLES if d != deployable)
    assert reaching_into(deployable.replace(".", "/"), (), others + ORACLE_TOP) == []
