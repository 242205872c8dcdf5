"""The running bot and its state: one writer, listening time saved on SIGTERM, a backup at start."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from processes import finish, quranbot_running, run_quranbot, start_quranbot, stop_quranbot

from quranbot.backup.archive import list_backups, verify_backup
from quranbot.paths import Paths
from quranbot.sandbox.server import Sandbox
from quranbot.store.lock import lock_holder


def run_args(home: Path, sandbox: Sandbox) -> list[str]:
    return [
        "--home", str(home), "run", "--sandbox", sandbox.url, "--sandbox-cert", str(sandbox.cert_file),
        "--token-file", str(sandbox.directory / "token"),
        "--voice-channel", str(sandbox.default.voice.id),
    ]  # fmt: skip


async def wait_for(condition: object, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.05)


async def test_listening_time_is_saved_on_sigterm_and_a_backup_is_made_at_start(
    sandbox: Sandbox, home: Path
) -> None:
    default = sandbox.default
    paths = Paths.under(home)
    await sandbox.join_voice(default.listener, default.voice)  # a member is already listening
    async with quranbot_running(*run_args(home, sandbox)) as bot:
        await sandbox.wait_for_voice(default.guild, default.bot.user.id, default.voice.id, timeout=20)
        joined = time.monotonic()
        await sandbox.listener(default.voice).wait_for_packets(50)
        assert lock_holder(paths.state_dir) == bot.pid  # the bot owns its state while it runs

        # a second bot on the same state is refused, clearly
        second = await start_quranbot(*run_args(home, sandbox))
        code, _, err = await finish(second)
        assert code == 1 and f"in use by process {bot.pid}" in err and "already running" in err

        # restoring under a running bot is refused, and says what to do
        await wait_for(lambda: bool(list_backups(paths.backups_dir)))
        refused = await asyncio.to_thread(
            run_quranbot,
            "--home",
            str(home),
            "backup",
            "restore",
            list_backups(paths.backups_dir)[0].name,
            "--yes",
        )
        assert refused.returncode == 1 and f"QuranBot is running (process {bot.pid})" in refused.stderr

        await asyncio.sleep(2.0)
        stopped = time.monotonic()
        code, _, err = await stop_quranbot(bot)
    assert code == 0, err

    stats = json.loads((paths.state_dir / "stats.json").read_text())
    mine = stats[f"guild:{default.guild.id}"][str(default.listener.user.id)]
    assert mine["sessions"] == 1
    assert 2.0 <= mine["seconds"] <= stopped - joined + 1.0  # exact accrual, written at shutdown
    assert str(default.admin.user.id) not in stats[f"guild:{default.guild.id}"]  # not in voice, not counted
    assert lock_holder(paths.state_dir) is None

    backups = list_backups(paths.backups_dir)
    assert len(backups) == 1  # none existed, so one ran at start; the hourly one was not yet due
    verify_backup(backups[0].path)


@pytest.mark.parametrize("damage", [b"\x00" * 100, b'{"guilds": {"1": '], ids=["zeros", "truncated"])
async def test_the_bot_repairs_a_corrupt_file_from_its_newest_backup(
    sandbox: Sandbox, home: Path, damage: bytes
) -> None:
    paths = Paths.under(home)
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    good = {"_meta": {"1": {"schema_version": 1}}, "guilds": {"5": {"guild_id": 5, "voice_channel_id": 55}}}
    (paths.state_dir / "settings.json").write_text(json.dumps(good))
    made = await asyncio.to_thread(run_quranbot, "--home", str(home), "backup", "create")
    assert made.returncode == 0, made.stderr
    (paths.state_dir / "settings.json").write_bytes(damage)

    async with quranbot_running(*run_args(home, sandbox)) as bot:
        default = sandbox.default
        await sandbox.wait_for_voice(default.guild, default.bot.user.id, default.voice.id)
        code, _, err = await stop_quranbot(bot)
    assert code == 0, err
    assert (
        json.loads((paths.state_dir / "settings.json").read_text())["guilds"]["5"]["voice_channel_id"] == 55
    )
    assert [p.read_bytes() for p in paths.state_dir.glob("settings.json.corrupt-*")] == [damage]
    assert "CRITICAL" in err and "settings.json was unreadable" in err and "restored it from backup" in err
