"""`quranbot doctor`: check everything the bot needs and say how to fix what is wrong."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from quranbot.cli.context import cli_context
from quranbot.cli.output import out
from quranbot.doctor import run_checks

MARK = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "fail": "[bold red]✗[/]"}


def doctor_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check Python, ffmpeg, libopus, the token, state, reciters, the service, the socket, disk and clock.

    Exit status 1 when any check fails (warnings do not count).
    """
    checks = run_checks(cli_context(ctx).paths)
    failed = any(c.status == "fail" for c in checks)
    if as_json:
        typer.echo(json.dumps({"ok": not failed, "checks": [c.to_json() for c in checks]}, indent=2))
    else:
        table = Table(show_header=False, box=None, padding=(0, 1))
        for check in checks:
            fix = f"\n  [dim]→ {escape(check.fix)}[/]" if check.fix and check.status != "ok" else ""
            table.add_row(MARK[check.status], f"[bold]{escape(check.name)}[/]", escape(check.detail) + fix)
        out.print(table)
        worst = "something needs fixing" if failed else "all is well"
        out.print(f"\n{sum(c.status == 'ok' for c in checks)} of {len(checks)} checks passed; {worst}.")
    if failed:
        raise typer.Exit(1)
