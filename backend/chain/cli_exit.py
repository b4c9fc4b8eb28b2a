"""How both command lines (`gpuhours`, `gpuhours oracle`) end a command that failed: one sentence on one
line, however narrow the terminal, and an exit status; and how their help shows a flag. Here, in the
chain layer, because that is the one part of the backend the oracle may import; it needs nothing of the
backend."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperOption


def fail(console: Console, message: str, code: int = 1) -> typer.Exit:
    """Print `error: message` (brackets in it are text, not markup); raise what this returns."""
    console.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def _flags_without_a_type() -> None:
    """typer's help shows every option's type, a flag's too: `--serve <bool>` reads as an option that
    takes a value, which it refuses (`--serve true`, `--serve=true`). A flag is shown as the flag alone."""
    shown = TyperOption.display_type_rich
    if getattr(shown, "flags_without_a_type", False):
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_bool_flag and self.metavar is None else shown(self, ctx)

    display_type_rich.flags_without_a_type = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_without_a_type()  # both command lines import this module before they build their commands
