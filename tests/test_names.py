"""No two classes in backend/ and oracle/ share a name: a name says which one a reader is looking at."""

from __future__ import annotations

import ast
from collections import defaultdict

from backend.chain.deployments import REPO_ROOT


def classes_by_name() -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for package in ("backend", "oracle"):
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            for node in ast.parse(path.read_text(), str(path)).body:
                if isinstance(node, ast.ClassDef):
                    found[node.name].append(str(path.relative_to(REPO_ROOT)))
    return found


def test_no_two_classes_share_a_name() -> None:
    found = classes_by_name()
    assert "Settings" not in found and "PostedOrder" in found  # the walk sees the packages
    assert {name: files for name, files in found.items() if len(files) > 1} == {}


def test_each_app_factory_names_its_service() -> None:
    """`gpuhours serve`, the oracle node and the GPU-node agent each build an HTTP app: one name each."""
    factories: dict[str, list[str]] = defaultdict(list)
    for package in ("backend", "oracle"):
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            for node in ast.parse(path.read_text(), str(path)).body:
                if (
                    isinstance(node, ast.FunctionDef)
                    and node.name.startswith("create_")
                    and node.name.endswith("app")
                ):
                    factories[node.name].append(str(path.relative_to(REPO_ROOT)))
    assert {"create_app", "create_node_app", "create_agent_app"} <= set(factories)
    assert {name: files for name, files in factories.items() if len(files) > 1} == {}
