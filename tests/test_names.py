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
