"""The web page's weight: the JavaScript and CSS of a fresh `npm run build:web`, raw and gzipped.

Writes docs/benchmarks.md between `<!-- web:begin -->` and `<!-- web:end -->` (`--no-write` only
prints). The target: at most 150 KB of JavaScript gzipped, every chunk counted, the ones the page loads
only when it needs them too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from scripts.benchdoc import write_section

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "backend" / "web" / "dist"
TARGET_KB = 150


@dataclass
class Asset:
    name: str
    raw: int
    gzipped: int
    at_start: bool


def measure(dist: Path = DIST) -> list[Asset]:
    index = (dist / "index.html").read_text()
    loaded = set(re.findall(r'(?:src|href)="/(assets/[^"]+)"', index))
    return [
        Asset(
            name=str(path.relative_to(dist)),
            raw=len(data := path.read_bytes()),
            gzipped=len(gzip.compress(data, compresslevel=9, mtime=0)),
            at_start=str(path.relative_to(dist)) in loaded,
        )
        for path in sorted((dist / "assets").iterdir())
        if path.suffix in (".js", ".css")
    ]


def versions() -> str:
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    return ", ".join(
        f"{name} {lock[f'node_modules/{name}']['version']}"
        for name in ("vite", "viem", "uplot", "typescript")
    )


def section(assets: list[Asset]) -> str:
    kb = 1000
    js = [a for a in assets if a.name.endswith(".js")]
    total = sum(a.gzipped for a in js)
    start = sum(a.gzipped for a in js if a.at_start)
    lines = [
        f"Measured by `python scripts/bench_web.py` on {dt.datetime.now(dt.UTC):%Y-%m-%d}: a fresh "
        f"`npm run build:web` ({versions()}), each file gzipped at level 9: what a compressing proxy "
        "sends. `gpuhours serve` itself sends them uncompressed (the raw column).",
        "",
        "| file | loaded | raw | gzipped |",
        "|---|---|---:|---:|",
        *(
            f"| `{a.name}` | {'at start' if a.at_start else 'when needed'} | {a.raw / kb:,.1f} KB | "
            f"{a.gzipped / kb:,.1f} KB |"
            for a in assets
        ),
        "",
        f"**JavaScript shipped**: {total / kb:,.1f} KB gzipped in all ({start / kb:,.1f} KB loaded at "
        f"start); target ≤ {TARGET_KB} KB: {'yes' if total <= TARGET_KB * kb else '**no**'}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print, do not rewrite docs/benchmarks.md")
    args = parser.parse_args()
    subprocess.run(["npm", "run", "--silent", "build:web"], cwd=ROOT, check=True)  # noqa: S607 — npm from PATH
    text = section(measure())
    print(text)
    if not args.no_write:
        write_section("web", "Web page", text)


if __name__ == "__main__":
    main()
