"""How both command lines (`gpuhours`, `gpuhours oracle`) end a command that failed: one sentence on one
line, however narrow the terminal, and an exit status. Here, in the chain layer, because that is the one
part of the backend the oracle may import; it needs nothing of the backend."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape


def fail(console: Console, message: str, code: int = 1) -> typer.Exit:
    """Print `error: message` (brackets in it are text, not markup); raise what this returns."""
    console.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)
