"""`quranbot setup`: the wizard answered through a scripted stdin, and `--no-prompt` for scripts.

Everything is real: the CLI in-process (Typer's runner), the files it writes, the reciter library.
The token must appear in no output, so each test asserts on everything that was printed.
"""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest
from config_helpers import flat, masked, quranbot, token_for

from quranbot.config.timezones import system_timezone
from quranbot.paths import Paths

APP_ID = 1234567890123456789
TOKEN = token_for(APP_ID)
NEW_TOKEN = token_for(1987654321098765432)
GUILD, VOICE, PANEL, ROLE, ADMIN = (
    111111111111111111,
    222222222222222222,
    333333333333333333,
    444444444444444444,
    555555555555555555,
)
INVITE = (
    f"https://discord.com/oauth2/authorize?client_id={APP_ID}"
    "&scope=bot+applications.commands&permissions=3230720"
)
#: Every question of a first run with one server, in order.
QUESTIONS = [
    "Token:",
    "Server (guild) id",
    "Voice channel id",
    "Panel channel id",
    "Controller role id",
    "Add another server?",
    "Default reciter",
    "Time zone",
    "Minutes between backups",
    "Pause while nobody is in the voice channel",
    "Your Discord user id",
    "Webhook URL",
    "Write ",
]

#: config.toml always holds the listening section, with its defaults unless set.
LISTENING_DEFAULTS = {"count_deafened": False, "announce_achievements": False, "role_after_minutes": 0}
#: ... and the daily verse's grace period (its pool is left out until set: every ayah).
DAILY_VERSE_DEFAULTS = {"grace_minutes": 360}
AUDIT_DEFAULTS = {"max_file_kib": 1024, "keep_files": 3}


def lines(*answers: object) -> str:
    return "".join(f"{a}\n" for a in answers)


def first_run_answers(token: str = TOKEN) -> str:
    return lines(token, GUILD, VOICE, PANEL, "", "n", "", "Asia/Riyadh", 30, "y", ADMIN, "", "y")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def saved(home: Path) -> dict[str, object]:
    return tomllib.loads(Paths.under(home).config_file.read_text())


def test_first_run_asks_every_question_and_saves_token_and_settings(home: Path) -> None:
    paths = Paths.under(home)
    result = quranbot(home, "setup", input=first_run_answers())
    assert result.exit_code == 0, result.output
    output = flat(result.output)
    positions = [output.find(q) for q in QUESTIONS]
    assert -1 not in positions and positions == sorted(positions), output
    assert INVITE in output
    assert "sample-tones (Sample tones" in output  # the imported reciters are offered
    assert f"token {masked(TOKEN)}" in output  # the summary, masked
    assert TOKEN not in result.output
    assert paths.token_file.read_text() == TOKEN + "\n" and mode(paths.token_file) == 0o600
    assert mode(paths.config_file) == 0o640
    assert saved(home) == {
        "timezone": "Asia/Riyadh",
        "recitation": {"reciter": "sample-tones", "pause_when_empty": True},
        "backup": {"interval_minutes": 30},
        "listening": LISTENING_DEFAULTS,
        "daily_verse": DAILY_VERSE_DEFAULTS,
        "audit": AUDIT_DEFAULTS,
        "alerts": {"admin_user": ADMIN},
        "guilds": [{"id": GUILD, "voice_channel": VOICE, "panel_channel": PANEL}],
    }


def test_rerun_offers_the_current_values_and_enter_keeps_them_all(home: Path) -> None:
    paths = Paths.under(home)
    assert quranbot(home, "setup", input=first_run_answers()).exit_code == 0
    before = paths.config_file.read_bytes(), paths.token_file.read_bytes()

    result = quranbot(home, "setup", input="\n" * len(QUESTIONS))
    assert result.exit_code == 0, result.output
    output = flat(result.output)
    for default in (
        f"Enter keeps {masked(TOKEN)}",
        f"({GUILD})",
        f"({VOICE})",
        f"({PANEL})",
        "steer) (none)",
        "(sample-tones)",
        "(Asia/Riyadh)",
        "(30)",
        "channel (saves CPU)? [y/n] (y)",
        f"({ADMIN})",
    ):
        assert default in output, default
    assert TOKEN not in result.output
    assert (paths.config_file.read_bytes(), paths.token_file.read_bytes()) == before


def test_rerun_replaces_the_token_and_changes_and_removes_servers(home: Path) -> None:
    paths = Paths.under(home)
    assert quranbot(home, "setup", input=first_run_answers()).exit_code == 0
    other_guild, other_voice = 666666666666666666, 777777777777777777
    answers = lines(
        NEW_TOKEN,
        "none",  # removes the first server...
        "y",  # ...then adds another
        other_guild,
        other_voice,
        "",
        ROLE,
        "n",
        "",
        "",
        "",
        "n",
        "none",
        "",
        "y",
    )
    result = quranbot(home, "setup", input=answers)
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output and NEW_TOKEN not in result.output
    assert f"token {masked(NEW_TOKEN)}" in flat(result.output)
    assert paths.token_file.read_text() == NEW_TOKEN + "\n" and mode(paths.token_file) == 0o600
    assert "client_id=1987654321098765432" in result.output  # the invite follows the new token
    assert saved(home) == {
        "timezone": "Asia/Riyadh",
        "recitation": {"reciter": "sample-tones", "pause_when_empty": False},
        "backup": {"interval_minutes": 30},
        "listening": LISTENING_DEFAULTS,
        "daily_verse": DAILY_VERSE_DEFAULTS,
        "audit": AUDIT_DEFAULTS,
        "guilds": [{"id": other_guild, "voice_channel": other_voice, "controller_role": ROLE}],
    }


def test_bad_answers_are_refused_with_the_reason_and_asked_again(home: Path) -> None:
    answers = lines(
        "",  # no token yet: Enter is not an answer
        "not a token",
        "YWJj.GhJk1a.xxxxxxxxxxxxxxxxxxxxxxxxxxx",  # base64 of "abc": not a bot id
        TOKEN,
        "12345",
        GUILD,
        "abc",
        VOICE,
        "",
        "",
        "n",
        "nobody",
        "Sample tones",  # a display name is accepted and saved as the folder name
        "Mars/Olympus",
        "Europe",
        "UTC",
        "0",
        "10081",
        "ten",
        "45",
        "n",
        "-5",
        "",
        "https://example.com/api/webhooks/123456789012345678/" + "x" * 68,
        "https://discord.com/api/webhooks/12/short",
        "",
        "y",
    )
    result = quranbot(home, "setup", input=answers)
    assert result.exit_code == 0, result.output
    output = flat(result.output)
    for reason in (
        "✗ no token given",
        "✗ that is not a bot token: a token is three parts joined by dots, made of letters, digits, - and _",
        "✗ that is not a bot token: its first part does not decode to the bot's id",
        '✗ "12345" is not a Discord id (a number of 17–20 digits)',
        '✗ "abc" is not a Discord id (a number of 17–20 digits)',
        '✗ "nobody" is not an imported reciter (imported: sample-tones)',
        '✗ "Mars/Olympus" is not a time zone (an IANA name such as "Europe/London" or "UTC";',
        '✗ "Europe" is not a time zone',
        '✗ "0" is not a whole number of minutes from 1 to 10080 (a week)',
        '✗ "10081" is not a whole number of minutes from 1 to 10080 (a week)',
        '✗ "ten" is not a whole number of minutes from 1 to 10080 (a week)',
        '✗ "-5" is not a Discord id (a number of 17–20 digits)',
        "✗ a webhook URL is on discord.com, not 'example.com'",
        "✗ that is not a webhook URL: it looks like https://discord.com/api/webhooks/ID/TOKEN",
    ):
        assert reason in output, reason
    assert TOKEN not in result.output
    assert saved(home) == {
        "timezone": "UTC",
        "recitation": {"reciter": "sample-tones", "pause_when_empty": False},
        "backup": {"interval_minutes": 45},
        "listening": LISTENING_DEFAULTS,
        "daily_verse": DAILY_VERSE_DEFAULTS,
        "audit": AUDIT_DEFAULTS,
        "guilds": [{"id": GUILD, "voice_channel": VOICE}],
    }


def test_declining_the_summary_writes_nothing(tmp_path: Path) -> None:
    """No reciter is imported here, so the reciter question is skipped (the first imported one is used)."""
    paths = Paths.under(tmp_path)
    answers = lines(TOKEN, "", "UTC", "", "", "", "", "n")
    result = quranbot(tmp_path, "setup", input=answers)
    assert result.exit_code == 1, result.output
    output = flat(result.output)
    assert "none is imported yet" in output and "Nothing was written." in output
    assert TOKEN not in result.output
    assert not paths.config_file.exists() and not paths.token_file.exists()


def test_input_ending_midway_writes_nothing(home: Path) -> None:
    paths = Paths.under(home)
    result = quranbot(home, "setup", input=lines(TOKEN, GUILD))
    assert result.exit_code == 1
    assert "error: setup stopped before the end: nothing was written" in flat(result.output)
    assert TOKEN not in result.output
    assert not paths.config_dir.exists()


def test_a_malformed_config_is_not_overwritten(home: Path) -> None:
    paths = Paths.under(home)
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text("[backup]\ninterval_minutes = -1\n")
    result = quranbot(home, "setup", input=first_run_answers())
    assert result.exit_code == 1
    assert (
        f"error: {paths.config_file}: backup.interval_minutes: -1 is not a whole number of minutes from 1 to "
        "10080 (a week) (fix it, or move it aside to start afresh)"
    ) in flat(result.output)
    assert paths.config_file.read_text() == "[backup]\ninterval_minutes = -1\n"
    assert not paths.token_file.exists()


# -- --no-prompt -------------------------------------------------------------------------------------------


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token-from-the-portal"
    path.write_text(TOKEN + "\n")
    return path


def test_no_prompt_needs_only_the_token(tmp_path: Path, token_file: Path) -> None:
    paths = Paths.under(tmp_path / "home")
    result = quranbot(tmp_path / "home", "setup", "--no-prompt", "--token-file", str(token_file))
    assert result.exit_code == 0, result.output
    assert INVITE in flat(result.output) and TOKEN not in result.output
    assert paths.token_file.read_text() == TOKEN + "\n" and mode(paths.token_file) == 0o600
    assert saved(tmp_path / "home") == {
        "timezone": system_timezone(),  # the server's own
        "recitation": {"pause_when_empty": False},
        "backup": {"interval_minutes": 60},
        "listening": LISTENING_DEFAULTS,
        "daily_verse": DAILY_VERSE_DEFAULTS,
        "audit": AUDIT_DEFAULTS,
    }


def test_no_prompt_takes_every_option_and_later_adds_a_server(home: Path, token_file: Path) -> None:
    first = quranbot(
        home, "setup", "--no-prompt", "--token-file", str(token_file),
        "--guild", str(GUILD), "--voice-channel", str(VOICE), "--panel-channel", str(PANEL),
        "--controller-role", str(ROLE), "--reciter", "sample-tones", "--timezone", "Europe/London",
        "--backup-every", "15", "--pause-when-empty", "--admin-user", str(ADMIN),
    )  # fmt: skip
    assert first.exit_code == 0, first.output
    # the token is already saved: a later run needs no --token-file
    second = quranbot(
        home, "setup", "--no-prompt", "--guild", "666666666666666666", "--voice-channel", str(VOICE)
    )
    assert second.exit_code == 0, second.output
    assert "Saved the token" not in second.output
    assert saved(home) == {
        "timezone": "Europe/London",
        "recitation": {"reciter": "sample-tones", "pause_when_empty": True},
        "backup": {"interval_minutes": 15},
        "listening": LISTENING_DEFAULTS,
        "daily_verse": DAILY_VERSE_DEFAULTS,
        "audit": AUDIT_DEFAULTS,
        "alerts": {"admin_user": ADMIN},
        "guilds": [
            {"id": GUILD, "voice_channel": VOICE, "panel_channel": PANEL, "controller_role": ROLE},
            {"id": 666666666666666666, "voice_channel": VOICE},
        ],
    }


BAD_TOKENS = {
    "not a token": "--token-file: that is not a bot token: a token is three parts joined by dots",
    "abc.def": "--token-file: that is not a bot token: a token is three parts joined by dots",
    "YWJj.GhJk1a.xxxxxxxxxxxxxxxxxxxxxxxxxxx": (
        "--token-file: that is not a bot token: its first part does not decode to the bot's id"
    ),
    "": "--token-file: Token file {path} is empty",
}


@pytest.mark.parametrize("content", BAD_TOKENS)
def test_no_prompt_refuses_a_bad_token_and_writes_nothing(home: Path, tmp_path: Path, content: str) -> None:
    path = tmp_path / "token-file"
    path.write_text(content + "\n")
    result = quranbot(home, "setup", "--no-prompt", "--token-file", str(path))
    assert result.exit_code == 2
    assert f"error: {BAD_TOKENS[content].format(path=path)}" in flat(result.output)
    if content:
        assert content not in result.output
    assert not Paths.under(home).config_dir.exists()


NOT_AN_ID = "is not a Discord id (a number of 17–20 digits)"
NOT_MINUTES = "is not a whole number of minutes from 1 to 10080 (a week)"
BAD_OPTIONS = [
    (["--guild", "abc", "--voice-channel", str(VOICE)], f'--guild: "abc" {NOT_AN_ID}'),
    (["--guild", str(GUILD), "--voice-channel", "123"], f'--voice-channel: "123" {NOT_AN_ID}'),
    (["--guild", str(GUILD)], f"--guild: {GUILD} is not in config.toml yet: give its --voice-channel too"),
    (["--voice-channel", str(VOICE)], "--voice-channel: which server? give its --guild ID too"),
    (["--guild", str(GUILD), "--voice-channel", str(VOICE), "--panel-channel", "#quran"],
     f'--panel-channel: "#quran" {NOT_AN_ID}'),
    (["--timezone", "Mars/Olympus"], '--timezone: "Mars/Olympus" is not a time zone (an IANA name such as'),
    (["--backup-every", "0"], f'--backup-every: "0" {NOT_MINUTES}'),
    (["--backup-every", "1.5"], f'--backup-every: "1.5" {NOT_MINUTES}'),
    (["--reciter", "nobody"], '--reciter: "nobody" is not an imported reciter (imported: sample-tones)'),
    (["--admin-user", "12"], f'--admin-user: "12" {NOT_AN_ID}'),
]  # fmt: skip


@pytest.mark.parametrize(
    ("options", "message"), BAD_OPTIONS, ids=[o[0][0] + "-" + o[0][1] for o in BAD_OPTIONS]
)
def test_no_prompt_refuses_bad_values_naming_the_option_and_writes_nothing(
    home: Path, token_file: Path, options: list[str], message: str
) -> None:
    result = quranbot(home, "setup", "--no-prompt", "--token-file", str(token_file), *options)
    assert result.exit_code == 2, result.output
    assert f"error: {message}" in flat(result.output)
    assert TOKEN not in result.output
    assert not Paths.under(home).config_dir.exists()


def test_no_prompt_without_any_token_is_refused(tmp_path: Path) -> None:
    result = quranbot(tmp_path, "setup", "--no-prompt", "--timezone", "UTC")
    assert result.exit_code == 2
    assert "error: --no-prompt needs --token-file FILE (no token is saved in" in flat(result.output)
    assert not Paths.under(tmp_path).config_dir.exists()


def test_no_prompt_bad_value_leaves_an_existing_config_untouched(home: Path, token_file: Path) -> None:
    paths = Paths.under(home)
    assert quranbot(home, "setup", "--no-prompt", "--token-file", str(token_file)).exit_code == 0
    before = paths.config_file.read_bytes(), paths.token_file.read_bytes()
    result = quranbot(home, "setup", "--no-prompt", "--backup-every", "15", "--timezone", "Nowhere")
    assert result.exit_code == 2
    assert (paths.config_file.read_bytes(), paths.token_file.read_bytes()) == before
