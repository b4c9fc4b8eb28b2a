"""docs/benchmarks.md sections that a benchmark script rewrites between its own markers."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def write_section(name: str, title: str, section: str, doc: Path = DOC) -> None:
    """Put `section` between `<!-- name:begin -->` and `<!-- name:end -->`; when the markers are not
    there yet, append them at the end of the file under a `## title` heading."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = doc.read_text()
    block = f"{begin}\n{section}\n{end}"
    if begin in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.DOTALL)
    else:
        text = text.rstrip("\n") + f"\n\n## {title}\n\n" + block + "\n"
    doc.write_text(text)
