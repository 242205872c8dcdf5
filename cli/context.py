"""What every `quranbot` subcommand gets from the root options (`--home`, `--verbose`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

from quranbot.paths import Paths


@dataclass(frozen=True)
class CliContext:
    paths: Paths
    #: The root given by --home or QURANBOT_HOME; None means the system locations.
    home: Path | None
    verbose: bool


def cli_context(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliContext)
    return obj
