"""Run Slither on contracts/src and fail on any finding not triaged in docs/security.md.

A finding is triaged by a row of the table in docs/security.md whose first two cells are the
detector and where it applies, both in backticks: `` | `divide-before-multiply` | `Decay.decayDown` | ``.
Where is `Contract.function`, `Contract.function.variable`, `Contract.Event` or a glob of them
(`IAttestationOracle.*`, `*`). Slither's own triage database keys findings by their line numbers,
so every edit above a finding would bring it back; the name of the function it sits in does not move.

Exit codes: 0 no untriaged finding, 1 untriaged findings (listed), 2 Slither itself failed.
"""

import fnmatch
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, NoReturn

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = REPO_ROOT / "contracts"
TRIAGE_DOC = REPO_ROOT / "docs" / "security.md"
ROW = re.compile(r"^\|\s*`([a-z0-9-]+)`\s*\|\s*`([^`]+)`\s*\|")


def triaged(doc: Path) -> list[tuple[str, str]]:
    """(detector, where-pattern) for every row of the triage table."""
    return [(m[1], m[2]) for line in doc.read_text().splitlines() if (m := ROW.match(line))]


def where(finding: dict[str, Any]) -> str:
    """The name of what a finding is about: its first element, qualified by its contract."""
    if not finding["elements"]:
        return "*"
    element = finding["elements"][0]
    parent = element.get("type_specific_fields", {}).get("parent") or {}
    names = [element["name"]]
    while parent:
        names.insert(0, parent["name"])
        parent = parent.get("type_specific_fields", {}).get("parent") or {}
    return ".".join(names)


def fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def run_slither() -> list[dict[str, Any]]:
    """Slither's findings on contracts/src (configured by contracts/slither.config.json)."""
    env = {**os.environ, "FOUNDRY_PROFILE": "slither"}
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "slither.json"
        # Slither exits non-zero whenever it finds anything; the report says whether it ran.
        proc = subprocess.run(
            [str(Path(sys.executable).with_name("slither")), ".", "--json", str(report)],
            check=False,
            cwd=CONTRACTS,
            env=env,
            capture_output=True,
            text=True,
        )
        if not report.is_file():
            fail(f"slither produced no report (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
        out = json.loads(report.read_text())
    if not out.get("success"):
        fail(f"slither failed: {out.get('error')}\n{proc.stderr[-4000:]}")
    return list(out.get("results", {}).get("detectors", []))


def main() -> int:
    accepted = triaged(TRIAGE_DOC)
    if not accepted:
        fail(f"no triage table found in {TRIAGE_DOC.relative_to(REPO_ROOT)}")
    findings = run_slither()
    used: set[tuple[str, str]] = set()
    new = []
    for finding in findings:
        name = where(finding)
        match = next(
            (row for row in accepted if row[0] == finding["check"] and fnmatch.fnmatchcase(name, row[1])),
            None,
        )
        if match:
            used.add(match)
        else:
            new.append((finding, name))
    for row in accepted:
        if row not in used:
            print(f"note: triaged `{row[0]}` at `{row[1]}` no longer found: drop its row", file=sys.stderr)
    for finding, name in new:
        print(f"\n[{finding['impact']}/{finding['confidence']}] {finding['check']} at {name}")
        print(finding["description"].rstrip())
    print(
        f"slither: {len(findings)} findings, {len(findings) - len(new)} triaged, {len(new)} new",
        file=sys.stderr,
    )
    if new:
        print(
            "Fix each new finding, or, if it is not a bug, add a row for it to the triage table of "
            "docs/security.md with the reason.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
