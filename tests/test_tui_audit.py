"""The TUI's log pane as the audit trail (`u`): the bot's records arrive live over the control socket,
and the result filter and the search narrow them, as a person reads the screen."""

from __future__ import annotations

import asyncio
from pathlib import Path

from running_bot import RunningBot
from test_tui import SIZE, preset, screen_text, shows, tui, until

from quranbot.sandbox.server import Sandbox
from quranbot.store.records import GuildPlayback, GuildSettings
from quranbot.tui.log_pane import LogPane


async def synced(sandbox: Sandbox) -> None:
    async with asyncio.timeout(15):
        while not any(c["name"] == "next" for c in sandbox.default.application.global_commands):
            await asyncio.sleep(0.05)


async def test_the_log_pane_shows_the_audit_trail_live_and_filters_it(sandbox: Sandbox, home: Path) -> None:
    d = sandbox.default
    preset(
        home,
        GuildPlayback(d.guild.id, loop=True),
        GuildSettings(d.guild.id, voice_channel_id=d.voice.id, controller_role_id=d.controller_role.id),
    )
    async with RunningBot(sandbox, home), tui(home).run_test(size=SIZE) as pilot:
        await shows(pilot, "1. Al-Faatiha", timeout=15)
        await synced(sandbox)
        await (await sandbox.run_command(d.admin, d.general, "next")).wait()  # before the view opens
        await pilot.press("u")
        await shows(pilot, "Audit trail", "Result: any", "admin", "next")
        pane = pilot.app.screen.query_one(LogPane)
        await (await sandbox.run_command(d.listener, d.general, "next")).wait()  # arrives live
        screen = await shows(pilot, "refused: Only members with the")
        assert "discord  admin (" in screen and "discord  listener (" in screen
        everything = len(pane.audit)
        assert f"{everything} of {everything} records" in screen

        await pilot.press("v")  # ok only: the admin's /next (and the bot's backup at start)
        await shows(pilot, "Result: ok", f"{everything - 1} of {everything} records")
        assert all(record.result == "ok" for record in pane.shown_audit())
        assert "Only members with the" not in screen_text(pilot.app)  # type: ignore[arg-type]
        await pilot.press("v")  # refused only
        await shows(pilot, "Result: refused", f"1 of {everything} records", "Only members with the")
        assert [r.actor for r in pane.shown_audit()] == ["listener"]
        await pilot.press("v", "v")  # error, then any again
        await pilot.press("f", *"admin", "escape")
        await until(pilot, lambda: [r.actor for r in pane.shown_audit()] == ["admin"], what="the search")

        await pilot.press("u")  # the log again, as it was
        await shows(pilot, "Level ≥ DEBUG", " lines")
        assert "Audit trail" not in screen_text(pilot.app)  # type: ignore[arg-type]
