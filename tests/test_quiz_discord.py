"""The quiz in Discord, on the sandbox with the real bot: questions, answers, reveals, scores, restarts.

The questions come from a bank imported with `quranbot quiz import` (tests/quiz_helpers.py), so each
test knows the right answer; deadlines are a few seconds (BotSettings), not the default 30.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import signal
import time
from pathlib import Path

from processes import quranbot_running, run_quranbot, stop_quranbot
from quiz_helpers import (
    BANK,
    RIGHT,
    WRONG,
    answer_ids,
    click,
    description,
    field,
    import_bank,
    quiz_messages,
    revealed,
)
from running_bot import RunningBot
from test_panel import until

from quranbot.paths import Paths
from quranbot.quiz.bank import BankLoader
from quranbot.quran.text import ARABIC_CREDIT, TRANSLATION_FILE, load_text
from quranbot.sandbox.server import Sandbox
from quranbot.store.records import QuizGuild, QuizScore
from quranbot.store.state import StateStore

DEADLINE = 4


def scores(home: Path, guild_id: int) -> dict[int, dict[str, object]]:
    paths = Paths.under(home)
    with StateStore(paths.state_dir, paths.backups_dir) as store:
        return {s.user_id: s.to_document() for s in store.quiz_scores(guild_id)}


async def started(sandbox: Sandbox, bot: RunningBot) -> RunningBot:
    """Start the bot and wait until it is ready: identified, and past discord.py's guild_ready_timeout
    (2 s; a bot stopped sooner logs an error from discord.py's own ready task, see tests/test_panel.py)."""
    sandbox.gateway.identified.clear()
    await bot.start()
    await sandbox.wait_for_ready()
    await asyncio.sleep(2.6)
    return bot


async def ask(sandbox: Sandbox, **options: str) -> None:
    d = sandbox.default
    asked = await sandbox.run_command(d.admin, d.general, "quiz", start=options)
    await asked.wait_for_followups()
    assert "Question posted" in asked.followups[0].content, asked.followups[0].content


async def test_answers_right_wrong_twice_and_late_score_as_the_formula_says(
    sandbox: Sandbox, home: Path, tmp_path: Path
) -> None:
    import_bank(home, tmp_path)
    d = sandbox.default
    right, wrong, silent = await sandbox.add_members(3)
    async with RunningBot(sandbox, home, quiz_deadline_seconds=DEADLINE):
        await sandbox.wait_for_ready()
        await ask(sandbox, category="history")
        (message,) = quiz_messages(sandbox, d.general)
        text = description(message)
        assert "second letter of the Greek alphabet" in text and "**B** · Beta" in text
        assert "<t:" in field(message, "Closes") and ":R>" in field(message, "Closes")
        assert len(answer_ids(message)) == 4

        assert "Your answer: **B** · Beta" in await click(sandbox, right, message, RIGHT)
        assert "Your answer: **C** · Gamma" in await click(sandbox, wrong, message, WRONG)
        again = await click(sandbox, right, message, WRONG)  # a second click changes nothing
        assert "already answered **B**" in again and "first answer counts" in again
        edits_before = len(message.history)

        await until(lambda: revealed(message), DEADLINE + 5, "the reveal")
        assert len(message.history) == edits_before + 1  # one edit: the reveal
        shown = description(message)
        assert "**Answer: B**" in shown and "alpha, beta, gamma, delta" in shown
        assert "The Greek alphabet — https://en.wikipedia.org/wiki/Greek_alphabet" in shown
        right_field = field(message, "Right (1 of 2)")
        assert f"<@{right.user.id}>" in right_field and f"<@{wrong.user.id}>" not in right_field
        buttons = [c for row in message.components for c in row["components"]]
        assert all(b.get("disabled") for b in buttons)
        assert [b["style"] for b in buttons] == [2, 3, 2, 2]  # the right one green
        assert "has closed" in await click(sandbox, silent, message, RIGHT)  # after the reveal

        # Beginner, answered within a second or two, no streak before: int(10 + (30 - s)/30 × 5) = 14.
        stats = await sandbox.run_command(right, d.general, "quiz", stats={})
        await stats.wait()
        embed = stats.response_data["embeds"][0]
        values = {f["name"]: f["value"] for f in embed["fields"]}
        assert values["Points"] == "14" and values["Accuracy"].startswith("100%")
        assert values["Rank"] == "#1 of 1"
        assert "First step" in values["Achievements"]

    saved = scores(home, d.guild.id)
    assert saved[right.user.id]["points"] == 14 and saved[right.user.id]["streak"] == 1
    assert saved[wrong.user.id]["points"] == 0 and saved[wrong.user.id]["streak"] == 0
    assert saved[wrong.user.id]["answered"] == 1 and silent.user.id not in saved


async def test_streak_bonus_and_difficulty_enter_the_points(
    sandbox: Sandbox, home: Path, tmp_path: Path
) -> None:
    import_bank(home, tmp_path, difficulty="advanced")
    d = sandbox.default
    (member,) = await sandbox.add_members(1)
    async with RunningBot(sandbox, home, quiz_deadline_seconds=3):
        await sandbox.wait_for_ready()
        for _ in range(3):
            await ask(sandbox, category="history")
            message = quiz_messages(sandbox, d.general)[-1]
            await click(sandbox, member, message, RIGHT)
            await until(lambda m=message: revealed(m), 8, "the reveal")
    # Advanced: 20 + speed 4 (answered within 6 s) + streak before × 2: 0, then 2, then 4.
    saved = scores(home, d.guild.id)[member.user.id]
    assert saved["points"] == 24 + 26 + 28
    assert saved["streak"] == 3 and saved["best_streak"] == 3 and saved["categories"] == {"history": [3, 3]}


async def test_a_question_open_at_a_restart_is_re_armed_and_one_whose_deadline_passed_is_revealed(
    sandbox: Sandbox, home: Path, tmp_path: Path
) -> None:
    import_bank(home, tmp_path)
    d = sandbox.default
    early, late = await sandbox.add_members(2)
    bot = await started(sandbox, RunningBot(sandbox, home, quiz_deadline_seconds=10))
    await ask(sandbox, category="history")
    (message,) = quiz_messages(sandbox, d.general)
    await click(sandbox, early, message, RIGHT)
    await bot.stop()  # as SIGTERM would: the question stays open, its answer saved
    assert not revealed(message)

    await started(sandbox, bot)
    assert "Your answer: **C**" in await click(sandbox, late, message, WRONG)  # still open after the restart
    await until(lambda: revealed(message), 15, "the reveal after the restart")
    assert "Right (1 of 2)" in str(message.embeds[0]["fields"][0]["name"])
    await bot.stop()
    saved = scores(home, d.guild.id)
    assert saved[early.user.id]["points"] == 14 - 0 and saved[late.user.id]["points"] == 0

    # Stopped while open, and the deadline passes while the bot is down: revealed at the next start.
    bot = await started(sandbox, RunningBot(sandbox, home, quiz_deadline_seconds=3))
    await ask(sandbox, category="history")
    second = quiz_messages(sandbox, d.general)[-1]
    await click(sandbox, early, second, RIGHT)
    await bot.stop()
    await asyncio.sleep(3)
    assert not revealed(second)
    began = time.monotonic()
    await bot.start()
    await until(lambda: revealed(second), 10, "the overdue reveal")
    assert time.monotonic() - began < 8
    await bot.stop()
    assert scores(home, d.guild.id)[early.user.id]["streak"] == 2


async def test_a_deleted_question_is_answered_in_a_new_message(
    sandbox: Sandbox, home: Path, tmp_path: Path
) -> None:
    import_bank(home, tmp_path)
    d = sandbox.default
    (member,) = await sandbox.add_members(1)
    async with RunningBot(sandbox, home, quiz_deadline_seconds=DEADLINE):
        await sandbox.wait_for_ready()
        await ask(sandbox, category="history")
        (message,) = quiz_messages(sandbox, d.general)
        await click(sandbox, member, message, RIGHT)
        await sandbox.world.delete_message(message)
        await until(lambda: quiz_messages(sandbox, d.general), DEADLINE + 5, "the answer, posted anew")
        (answer,) = quiz_messages(sandbox, d.general)
        assert revealed(answer) and "The question was deleted" in answer.embeds[0]["footer"]["text"]
        assert f"<@{member.user.id}>" in field(answer, "Right")
    assert scores(home, d.guild.id)[member.user.id]["points"] == 14


async def test_a_generated_question_shows_its_reference_with_tanzil_text(
    sandbox: Sandbox, home: Path
) -> None:
    d = sandbox.default
    bank = BankLoader(Paths.under(home).quiz_banks_dir).bank()
    async with RunningBot(sandbox, home, quiz_deadline_seconds=3):
        await sandbox.wait_for_ready()
        await ask(sandbox, category="quran", difficulty="advanced")
        (message,) = quiz_messages(sandbox, d.general)
        asked_text = description(message)
        await until(lambda: revealed(message), 8, "the reveal")
    # The question asked: its text and its four choices, in order, as the message showed them.
    (asked,) = [
        q
        for q in bank.questions("quran", "advanced")
        if f"**{q.question}**" in asked_text
        and all(
            f"**{letter}** · {choice}" in asked_text for letter, choice in zip("ABCD", q.choices, strict=True)
        )
    ]
    shown = description(message)
    assert f"✅ **{'ABCD'[asked.answer]}** · {asked.correct}" in shown and asked.explanation in shown
    ref = next(r for r in asked.references if r.is_quran)  # a generated question always carries one
    assert ref.surah is not None and ref.first_ayah is not None
    assert load_text().ayah(ref.surah, ref.first_ayah) in shown  # byte for byte, as Tanzil has it
    assert load_text(TRANSLATION_FILE).ayah(ref.surah, ref.first_ayah) in shown
    assert ARABIC_CREDIT in message.embeds[0]["footer"]["text"]


async def test_leaderboard_pages_ties_and_the_callers_own_rank(sandbox: Sandbox, home: Path) -> None:
    d = sandbox.default
    members = await sandbox.add_members(13)
    paths = Paths.under(home)
    with StateStore(paths.state_dir, paths.backups_dir) as store:  # scores as earlier reveals left them
        for index, member in enumerate(members):
            points = 100 - index * 5 if index != 2 else 95  # members 1 and 2 tie on 95
            store.save_quiz_score(QuizScore(d.guild.id, member.user.id, points=points, answered=1, correct=1))
    async with RunningBot(sandbox, home):
        await sandbox.wait_for_ready()
        last = members[-1]
        shown = await sandbox.run_command(last, d.general, "leaderboard", quiz={"period": "all"})
        await shown.wait()
        board = shown.original
        assert board is not None and not board.ephemeral
        lines = board.embeds[0]["description"].split("\n")
        assert len(lines) == 10
        assert f"<@{members[0].user.id}>" in lines[0] and "🥇" in lines[0]
        assert "🥈" in lines[1] and "🥈" in lines[2]  # a tie shares the rank
        assert f"<@{members[1].user.id}>" in lines[1 if members[1].user.id < members[2].user.id else 2]
        assert "`#4`" in lines[3]
        assert "#13 with 40 points" in board.embeds[0]["fields"][0]["value"]  # off the page, still shown
        assert "Page 1 of 2" in board.embeds[0]["footer"]["text"]
        pressed = await sandbox.press(last, board, "quranbot:lb:quiz:all:1:next")
        await pressed.wait()
        assert pressed.response_type == 7
        assert "Page 2 of 2" in board.embeds[0]["footer"]["text"]
        assert len(board.embeds[0]["description"].split("\n")) == 3


async def test_a_schedule_posts_each_slot_once_across_restarts(
    sandbox: Sandbox, home: Path, tmp_path: Path
) -> None:
    import_bank(home, tmp_path)
    d = sandbox.default
    paths = Paths.under(home)
    interval = 4
    with StateStore(paths.state_dir, paths.backups_dir) as store:  # a fast clock: a slot every 4 s
        store.save_quiz_guild(
            QuizGuild(d.guild.id, schedule_channel_id=d.panel.id, schedule_interval_seconds=interval)
        )
    bot = RunningBot(sandbox, home, quiz_deadline_seconds=2, timezone="UTC")
    await started(sandbox, bot)
    await until(lambda: len(quiz_messages(sandbox, d.panel)) >= 2, 3 * interval, "two scheduled questions")
    await bot.stop()
    before = len(quiz_messages(sandbox, d.panel))
    await asyncio.sleep(interval + 1)  # a slot passes while the bot is down
    await bot.start()
    await until(
        lambda: len(quiz_messages(sandbox, d.panel)) > before, 3, "the missed slot, caught up at start"
    )
    await bot.stop()
    slots = [
        int(datetime.datetime.fromisoformat(m.payload["timestamp"]).timestamp()) // interval
        for m in quiz_messages(sandbox, d.panel)
    ]
    assert len(slots) == len(set(slots)), f"a slot was posted twice: {slots}"

    # The admin's command: saved, and the first post is at the next slot, not now.
    await started(sandbox, bot)
    done = await sandbox.run_command(
        d.admin, d.general, "quiz", schedule={"channel": d.general.id, "every": 60}
    )
    await done.wait()
    assert done.original is not None and "every hour" in done.original.content
    refused = await sandbox.run_command(
        d.listener, d.general, "quiz", schedule={"channel": d.general.id, "every": 60}
    )
    await refused.wait()
    assert refused.original is not None and "Manage Server" in refused.original.content
    await asyncio.sleep(1)
    assert quiz_messages(sandbox, d.general) == []
    await bot.stop()
    with StateStore(paths.state_dir, paths.backups_dir) as store:
        saved = store.quiz_guild(d.guild.id)
    assert (saved.schedule_channel_id, saved.schedule_interval_seconds) == (d.general.id, 3600)


async def test_a_crowd_answers_at_once_and_everyone_is_acknowledged(
    sandbox: Sandbox, home: Path, tmp_path: Path
) -> None:
    import_bank(home, tmp_path)
    d = sandbox.default
    crowd = await sandbox.add_members(30)
    async with RunningBot(sandbox, home, quiz_deadline_seconds=6):
        await sandbox.wait_for_ready()
        await ask(sandbox, category="history")
        (message,) = quiz_messages(sandbox, d.general)
        replies = await asyncio.gather(
            *(click(sandbox, m, message, RIGHT if i % 3 else WRONG) for i, m in enumerate(crowd))
        )
        assert all(r.startswith("Your answer:") for r in replies)
        await until(lambda: revealed(message), 10, "the reveal")
        right = field(message, "Right (20 of 30)")
        assert right.count("<@") == 20 and "more" not in right
        assert "— 20" in description(message) and "— 10" in description(message)  # B 20, C 10
    saved = scores(home, d.guild.id)
    assert len(saved) == 30 and sum(1 for s in saved.values() if s["points"] == 14) == 20


async def test_cooldowns_on_quiz_commands_and_answer_clicks(
    sandbox: Sandbox, home: Path, tmp_path: Path
) -> None:
    import_bank(home, tmp_path)
    d = sandbox.default
    (member,) = await sandbox.add_members(1)
    async with RunningBot(sandbox, home, quiz_deadline_seconds=30):
        await sandbox.wait_for_ready()
        await ask(sandbox, category="history")
        (message,) = quiz_messages(sandbox, d.general)
        replies = [await click(sandbox, member, message, RIGHT) for _ in range(11)]
        assert replies[0].startswith("Your answer:")
        assert all("already answered" in r for r in replies[1:10])
        assert replies[10].startswith("Slow down: you can answer again in")
        answers = []
        for _ in range(11):
            asked = await sandbox.run_command(member, d.general, "quiz", start={})
            await asked.wait()
            answers.append(asked)
        last = answers[-1].original
        assert last is not None and last.ephemeral and last.content.startswith("Slow down: try again in")
        await answers[0].wait_for_followups()
        assert "A question is already open here" in answers[0].followups[0].content


async def test_sigkill_mid_question_loses_no_answer_older_than_the_flush_interval(
    sandbox: Sandbox, home: Path, tmp_path: Path
) -> None:
    """A real `quranbot run` process, killed with SIGKILL while a question is open: after the restart
    the question is revealed with the answer given before the kill, and scored once."""
    import_bank(home, tmp_path)
    d = sandbox.default
    (member,) = await sandbox.add_members(1)
    paths = Paths.under(home)
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text("[quiz]\ndeadline_seconds = 12\n")
    args = ["--home", str(home), "run", "--sandbox", sandbox.url, "--sandbox-cert", str(sandbox.cert_file),
            "--token-file", str(sandbox.directory / "token"), "--flush-interval", "1"]  # fmt: skip
    async with quranbot_running(*args) as bot:
        await sandbox.wait_for_ready(20)
        await asyncio.sleep(2.6)
        await ask(sandbox, category="history")
        (message,) = quiz_messages(sandbox, d.general)
        await click(sandbox, member, message, RIGHT)
        await asyncio.sleep(1.5)  # one flush interval (1 s) and some
        os.kill(bot.pid, signal.SIGKILL)
        await bot.wait()
    assert not revealed(message)
    sandbox.gateway.identified.clear()
    async with quranbot_running(*args) as bot:
        await until(lambda: revealed(message), 20, "the reveal after the crash")
        assert f"<@{member.user.id}>" in field(message, "Right (1 of 1)")
        code, _, err = await stop_quranbot(bot)
    assert code == 0, err
    assert scores(home, d.guild.id)[member.user.id]["points"] == 14


async def test_a_running_bot_asks_from_a_bank_imported_meanwhile_and_a_broken_one_changes_nothing(
    sandbox: Sandbox, home: Path, tmp_path: Path
) -> None:
    d = sandbox.default
    async with RunningBot(sandbox, home, quiz_deadline_seconds=3):
        await sandbox.wait_for_ready()
        await asyncio.sleep(2.6)
        none_yet = await sandbox.run_command(d.admin, d.general, "quiz", start={"category": "history"})
        await none_yet.wait()
        assert none_yet.original is not None
        assert "No questions match the History category" in none_yet.original.content
        assert "quranbot quiz import" in none_yet.original.content

        broken = tmp_path / "broken.toml"
        broken.write_text(BANK.format(difficulty="beginner").replace('answer = "B"', 'answer = "E"'))
        refused = run_quranbot("--home", str(home), "quiz", "import", str(broken))
        assert refused.returncode == 1 and f"{broken}:" in refused.stderr + refused.stdout
        assert not list(Paths.under(home).quiz_banks_dir.glob("*.toml"))  # nothing imported

        import_bank(home, tmp_path)  # while the bot runs: no restart
        await ask(sandbox, category="history")
        (message,) = quiz_messages(sandbox, d.general)
        assert "second letter of the Greek alphabet" in description(message)
        await until(lambda: revealed(message), 8, "the reveal")
