"""Shared by the config and setup tests: tokens shaped like Discord's, and the CLI run in-process."""

from __future__ import annotations

import base64
from pathlib import Path

from typer.testing import CliRunner, Result

from quranbot.cli.app import app


def token_for(application_id: int) -> str:
    """A token shaped like a real bot token (base64 id, timestamp, HMAC): never a real one."""
    head = base64.urlsafe_b64encode(str(application_id).encode()).decode().rstrip("=")
    return f"{head}.GhJk1a.{'x1Y_-zQ9' * 5}"


def masked(token: str) -> str:
    return f"{token[:4]}…({len(token)} chars)"


def quranbot(home: Path, *args: str, input: str = "") -> Result:
    """`quranbot --home HOME ARGS...` in this process, stdin scripted; $QURANBOT_TOKEN unset."""
    return CliRunner().invoke(app, ["--home", str(home), *args], input=input, env={"QURANBOT_TOKEN": None})


def flat(text: str) -> str:
    """Output with Rich's line wrapping undone, for assertions on whole sentences."""
    return " ".join(text.split())
