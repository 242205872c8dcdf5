"""The quiz as the admin sees it from the server's terminal: the control socket's `quiz` topic and
figures, `quranbot status`, and the TUI's stats pane, with the real bot on the sandbox."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from processes import finish, start_quranbot
from quiz_helpers import RIGHT, WRONG, click, import_bank, quiz_messages, revealed
from running_bot import RunningBot
from test_panel import until
from test_tui import shows, tui

from quranbot.control.client import ControlClient
from quranbot.paths import Paths
from quranbot.sandbox.server import Sandbox
from quranbot.tui.stats_pane import LABEL_WIDTH


async def socket_of(home: Path) -> Path:
    path = Paths.under(home).control_socket
    await until(path.exists, 10, "the control socket")
    return path


async def test_quiz_events_figures_status_and_the_tui(sandbox: Sandbox, home: Path, tmp_path: Path) -> None:
    import_bank(home, tmp_path)
    d = sandbox.default
    right, wrong = await sandbox.add_members(2)
    async with RunningBot(sandbox, home, quiz_deadline_seconds=3):
        client = await ControlClient.connect(await socket_of(home))
        assert "quiz" in client.hello["topics"]
        await client.subscribe("quiz")
        await sandbox.wait_for_ready()
        await asyncio.sleep(2.6)  # discord.py's guild_ready_timeout
        asked = await sandbox.run_command(d.admin, d.general, "quiz", start={"category": "history"})
        await asked.wait_for_followups()
        (message,) = quiz_messages(sandbox, d.general)
        await click(sandbox, right, message, RIGHT)
        await click(sandbox, wrong, message, WRONG)
        await until(lambda: revealed(message), 8, "the reveal")

        events: list[dict[str, Any]] = []
        async with asyncio.timeout(5):
            while not any(e["event"] == "revealed" for e in events):
                _, data = await client.events.get()
                events.append(data)
        kinds = [e["event"] for e in events]
        assert kinds == ["posted", "answered", "answered", "revealed"]
        assert events[0]["question_id"] == "test-second-letter" and events[0]["asked_by"] == "admin"
        assert all("choice" not in e and "answer" not in e for e in events[:3])  # nothing given away
        assert events[-1]["answers"] == 2 and events[-1]["correct"] == 1 and events[-1]["answer"] == "B"

        (figures,) = (await client.call("stats"))["quiz"]
        assert figures["questions_today"] == 1 and figures["answers_today"] == 2 and figures["open"] == 0
        assert figures["top_today"] == [{"id": str(right.user.id), "name": "member1", "points": 14}]
        await client.close()

        code, out, err = await finish(await start_quranbot("--home", str(home), "status"))
        assert code == 0, err
        assert "quiz today (Sandbox Guild): 1 questions · 2 answers · top: member1 14" in out
        code, out, _ = await finish(await start_quranbot("--home", str(home), "status", "--json"))
        assert json.loads(out)["stats"]["quiz"][0]["answers_today"] == 2

        app = tui(home)
        async with app.run_test(size=(120, 40)) as pilot:
            quiz_row, top_row = "Quiz today".ljust(LABEL_WIDTH), "Top today".ljust(LABEL_WIDTH)
            await shows(pilot, quiz_row + "1 asked, 2 answers", top_row + "member1 14")
