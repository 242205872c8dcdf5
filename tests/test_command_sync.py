"""Recitation does not depend on the slash-command sync (issue 19). The real bot on the sandbox, whose
bulk overwrite of the commands first fails (503, as during an outage of that one endpoint) and then is
refused (400, a command Discord finds invalid): the bot recites from the start either way, retries the
failure with backoff until Discord has the commands, and names the refused command once, not retrying.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from running_bot import RunningBot

from quranbot.bot import command_sync
from quranbot.sandbox.server import Sandbox

SYNC_ROUTE = ("PUT", "/applications/{app_id}/commands")


def syncs(sandbox: Sandbox) -> list[int]:
    """The status of every bulk overwrite the bot sent, in order."""
    return [status for method, route, status in sandbox.rest.requests if (method, route) == SYNC_ROUTE]


async def test_a_failing_sync_is_retried_while_the_bot_recites(
    sandbox: Sandbox, home: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(command_sync, "RETRY_START", 0.2)  # the backoff itself, made short
    caplog.set_level(logging.INFO, logger=command_sync.__name__)
    d = sandbox.default
    sandbox.faults.fail_rest(*SYNC_ROUTE, status=503, times=3)
    ear = sandbox.listener(d.voice)
    async with RunningBot(sandbox, home, voice_channels=(d.voice.id,)):
        await ear.wait_for_packets(100, timeout=20)
        await sandbox.wait_for_ready()
        while syncs(sandbox) != [503, 503, 503, 200]:
            assert len(syncs(sandbox)) <= 4, syncs(sandbox)
            await ear.wait_for_packets(ear.packets + 5, timeout=10)
        assert {"play", "quiz", "setup"} <= {c["name"] for c in d.application.global_commands}
        await (await sandbox.run_command(d.admin, d.general, "ping")).wait()  # the commands work now
    warnings = [r.getMessage() for r in caplog.records if r.name == command_sync.__name__]
    assert len([w for w in warnings if w.startswith("Could not register the slash commands (503")]) == 3
    assert any(w.startswith("Synced ") for w in warnings)


async def test_a_refused_sync_names_the_command_once_and_the_bot_recites(
    sandbox: Sandbox, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    d = sandbox.default
    sandbox.faults.refuse_command("quiz", "description", "Must be 100 or fewer in length.")
    ear = sandbox.listener(d.voice)
    async with RunningBot(sandbox, home, voice_channels=(d.voice.id,)):
        await ear.wait_for_packets(100, timeout=20)
        await sandbox.wait_for_ready()
        await ear.wait_for_packets(ear.packets + 50, timeout=10)  # a second more: no retry comes
    assert syncs(sandbox) == [400]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "/quiz (description): Must be 100 or fewer in length." in errors[0], errors
    assert d.application.global_commands == []  # Discord kept what it had: nothing
