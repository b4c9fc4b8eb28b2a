"""Install what you run: the telemetry agent imports nothing its install (gpuhours[agent]) leaves out.

The agent runs on a provider's GPU node, where gpuhours[agent] installs the base dependencies and the
agent's, with theirs: no Celery, no database drivers, no ape, no web3. This starts the agent's
command and modules in a fresh interpreter that refuses every installed module those distributions
do not provide, so an import that would need another extra fails here as it would on the node.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
AGENT_MODULES = (
    "oracle.cli",
    "oracle.agent.api",
    "oracle.agent.prover",
    "oracle.agent.telemetry",
    "oracle.agent.telemetry.simulated",
    "oracle.agent.telemetry.nvml",
    "oracle.agent.telemetry.dcgm",
)
# Runs in the fresh interpreter: refuse the modules, import the agent, build its app, show its help.
PROBE = """
import importlib, json, sys
refused = set(json.loads(sys.argv[1]))

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in refused:
            raise ModuleNotFoundError(f"{name} is not installed by gpuhours[agent]", name=name)
        return None

sys.meta_path.insert(0, Refuse())
for module in json.loads(sys.argv[2]):
    importlib.import_module(module)
from typer.testing import CliRunner
from oracle.cli import app
result = CliRunner().invoke(app, ["agent", "--help"])
assert result.exit_code == 0, result.output
"""


def _requirements(extra: str) -> list[Requirement]:
    """The base dependencies and those of `extra`, gpuhours' own extras expanded."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found, todo = [Requirement(r) for r in project["dependencies"]], [extra]
    while todo:
        for text in project["optional-dependencies"][todo.pop()]:
            req = Requirement(text)
            if canonicalize_name(req.name) == "gpuhours":
                todo += sorted(req.extras)
            else:
                found.append(req)
    return found


def _installed_with(requirements: list[Requirement]) -> set[str]:
    """The distributions these requirements install, with everything they require in turn."""
    env = {k: str(v) for k, v in default_environment().items()}
    seen: set[str] = set()
    todo = list(requirements)
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen.add(name)
        for text in metadata.requires(req.name) or []:
            sub = Requirement(text)
            extras = ["", *sorted(req.extras)]
            if sub.marker is None or any(sub.marker.evaluate({**env, "extra": e}) for e in extras):
                todo.append(sub)
    return seen


def test_the_agent_imports_only_what_gpuhours_agent_installs():
    allowed = _installed_with(_requirements("agent"))
    assert {"numpy", "fastapi", "typer"} <= allowed and "web3" not in allowed
    refused = sorted(
        module
        for module, dists in metadata.packages_distributions().items()
        if not {canonicalize_name(d) for d in dists} & (allowed | {"gpuhours"})
    )
    # The extras that must stay out are among what is refused, so the probe can fail.
    assert {"celery", "psycopg", "sqlmodel", "ape", "web3", "eth_account", "redis"} <= set(refused)
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(refused), json.dumps(AGENT_MODULES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
