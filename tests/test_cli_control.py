"""`quranbot status|play|pause|resume|next|previous|logs` as an admin types them, against the real bot.

The bot runs on the sandbox in this test's event loop; each command is a real `quranbot` process talking
to its control socket, and what it changes is checked by ear.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from ears import wait_to_hear
from processes import finish, run_quranbot, start_quranbot
from running_bot import RunningBot

from quranbot.paths import Paths
from quranbot.sandbox.server import Sandbox


async def quranbot(home: Path, *args: str) -> tuple[int, str, str]:
    return await finish(await start_quranbot("--home", str(home), *args))


async def test_status_and_steering_from_the_terminal(
    sandbox: Sandbox, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # as `quranbot run` logs
    default = sandbox.default
    listener = sandbox.listener(default.voice)
    await sandbox.join_voice(default.listener, default.voice)
    async with RunningBot(sandbox, home, voice_channels=(default.voice.id,)):
        await listener.wait_for_packets(10, timeout=20)
        code, out, _ = await quranbot(home, "status")
        assert code == 0
        assert "PLAYING · Sandbox Guild · #Quran" in out and "Al-Faatiha (The Opening)" in out
        assert "الفاتحة" in out and "1: listener" in out and "packets/s" in out

        code, out, _ = await quranbot(home, "play", "4")
        assert code == 0 and "Playing 4. An-Nisaa. Now playing: 4. An-Nisaa (The Women)" in out
        await wait_to_hear(listener, 4, timeout=3)
        assert (await quranbot(home, "next"))[0] == 0
        await wait_to_hear(listener, 5, timeout=3)
        assert (await quranbot(home, "previous"))[0] == 0
        await wait_to_hear(listener, 4, timeout=3)

        code, out, _ = await quranbot(home, "pause")
        assert code == 0 and "Now paused" in out
        await asyncio.sleep(0.3)
        mark = listener.packets
        await asyncio.sleep(0.5)
        assert listener.packets - mark <= 5
        assert (await quranbot(home, "resume"))[0] == 0
        await listener.wait_for_packets(mark + 20, timeout=3)

        code, out, _ = await quranbot(home, "status", "--json")
        report = json.loads(out)
        (guild,) = report["status"]["guilds"]
        assert guild["state"] == "playing" and guild["last_action"]["what"] == "Resumed"
        assert report["stats"]["voice_connected"] == 1

        code, out, _ = await quranbot(home, "logs", "-n", "50")
        assert code == 0 and "Playing 4. An-Nisaa, by" in out and "Resumed, by" in out
        code, out, _ = await quranbot(home, "logs", "--level", "warning")
        assert code == 0 and "Resumed" not in out

        code, _, err = await quranbot(home, "play", "3", "--reciter", "nobody")
        assert code == 1 and "No reciter named 'nobody'" in err
        code, _, err = await quranbot(home, "play", "3", "--guild", "Elsewhere")
        assert code == 1 and "no guild 'Elsewhere' plays here" in err


async def test_logs_follow_prints_new_lines_as_they_happen(
    sandbox: Sandbox, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with RunningBot(sandbox, home, voice_channels=(sandbox.default.voice.id,)):
        await sandbox.listener(sandbox.default.voice).wait_for_packets(10, timeout=20)
        follower = await start_quranbot("--home", str(home), "logs", "-n", "0", "--follow")
        await asyncio.sleep(1.0)  # subscribed by now
        assert (await quranbot(home, "play", "6"))[0] == 0
        assert follower.stdout is not None
        async with asyncio.timeout(5):
            while b"Playing 6. Al-An'aam, by" not in (line := await follower.stdout.readline()):
                assert line, "the follower ended early"
    # the bot stopped: the follower notices and exits 3, as `status` would
    code, _, err = await finish(follower, timeout=10)
    assert code == 3 and "QuranBot stopped" in err


def test_commands_exit_3_when_the_bot_is_not_running(tmp_path: Path) -> None:
    for command in (["status"], ["status", "--json"], ["play", "2"], ["pause"], ["logs"]):
        result = run_quranbot("--home", str(tmp_path), *command)
        assert result.returncode == 3, command
        assert "QuranBot is not running (no control socket at" in result.stderr
        assert str(Paths.under(tmp_path).control_socket) in result.stderr.replace("\n", "")
