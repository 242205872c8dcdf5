"""What the quiz tests share: a one-question bank imported as an admin would, and reading quiz messages."""

from __future__ import annotations

from pathlib import Path

from processes import run_quranbot

from quranbot.sandbox.model import Channel, Member, Message
from quranbot.sandbox.server import Sandbox

#: A test bank in the History category (the shipped banks have none, so `/quiz start category:history`
#: asks exactly these). Not Islamic content: a fixture whose answers the tests know.
BANK = """\
[bank]
name = "Test letters"

[[questions]]
id = "test-second-letter"
category = "history"
difficulty = "{difficulty}"
question = "Which of these is the second letter of the Greek alphabet?"
choices = ["Alpha", "Beta", "Gamma", "Delta"]
answer = "B"
explanation = "The Greek alphabet runs alpha, beta, gamma, delta."
references = [{{ source = "The Greek alphabet", url = "https://en.wikipedia.org/wiki/Greek_alphabet" }}]
"""
RIGHT, WRONG = 1, 2


def import_bank(home: Path, tmp_path: Path, difficulty: str = "beginner") -> None:
    bank = tmp_path / "letters.toml"
    bank.write_text(BANK.format(difficulty=difficulty))
    done = run_quranbot("--home", str(home), "quiz", "import", str(bank))
    assert done.returncode == 0, done.stderr


def quiz_messages(sandbox: Sandbox, channel: Channel) -> list[Message]:
    return [
        m
        for m in sandbox.messages(channel, include_ephemeral=False)
        if m.embeds and str(m.embeds[0].get("title", "")).startswith("Quiz ·")
    ]


def answer_ids(message: Message) -> list[str]:
    """The custom_ids of the A–D buttons, in order."""
    found = []
    for row in message.components:
        for item in row.get("components") or []:
            if str(item.get("custom_id", "")).startswith("quranbot:quiz:"):
                found.append(str(item["custom_id"]))
    return found


async def click(sandbox: Sandbox, member: Member, message: Message, choice: int) -> str:
    """A member presses A–D (0–3); returns the bot's (ephemeral) answer."""
    record = await sandbox.press(member, message, answer_ids(message)[choice])
    await record.wait()
    assert record.original is not None and record.original.ephemeral
    return record.original.content


def revealed(message: Message) -> bool:
    return "Answer" in str(message.embeds[0].get("title", ""))


def description(message: Message) -> str:
    return str(message.embeds[0].get("description", ""))


def field(message: Message, starts: str) -> str:
    return next(
        str(f["value"]) for f in message.embeds[0].get("fields", []) if str(f["name"]).startswith(starts)
    )
