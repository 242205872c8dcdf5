"""Alerts settings as an admin gives them: the webhook URL through the wizard (typed hidden) or a file,
saved 0600 beside the token and never printed; `[alerts]` keys through `setup --no-prompt` and `config set`.
Everything printed is searched for the URL and its token part."""

from __future__ import annotations

import json
import stat
import tomllib
from pathlib import Path

from config_helpers import flat, quranbot, token_for
from test_setup_wizard import ADMIN, first_run_answers, lines

from quranbot.paths import Paths

TOKEN = token_for(1234567890123456789)
HOOK_ID = 987654321098765432
HOOK_TOKEN = "Ab1_" + "c" * 60 + "-Z9x"
URL = f"https://discord.com/api/webhooks/{HOOK_ID}/{HOOK_TOKEN}"
MASKED = f"https://discord.com/api/webhooks/{HOOK_ID}/Ab1_…(68 chars)"
CHANNEL, ROLE = 888888888888888888, 999999999999999999


def squashed(text: str) -> str:
    """Output without any whitespace: a table cell wrapped over lines reads whole again."""
    return "".join(text.split())


def no_secret(output: str) -> None:
    assert URL not in output and HOOK_TOKEN not in output and HOOK_TOKEN[:20] not in output


def test_the_wizard_takes_the_webhook_hidden_saves_it_0600_and_shows_it_masked(home: Path) -> None:
    paths = Paths.under(home)
    assert quranbot(home, "setup", input=first_run_answers()).exit_code == 0
    assert not paths.alerts_webhook_file.exists()

    # everything kept (Enter), then the webhook URL pasted
    answers = "\n" * 11 + lines(URL, "y")
    result = quranbot(home, "setup", input=answers)
    assert result.exit_code == 0, result.output
    no_secret(result.output)
    output = flat(result.output)
    assert squashed(f"alerts webhook {MASKED}") in squashed(result.output)  # the summary (a table: may wrap)
    assert f"Saved the alerts webhook URL to {paths.alerts_webhook_file}" in output
    assert paths.alerts_webhook_file.read_text() == URL + "\n"
    assert stat.S_IMODE(paths.alerts_webhook_file.stat().st_mode) == 0o600
    assert URL not in paths.config_file.read_text()

    shown = quranbot(home, "config", "show")
    no_secret(shown.output)
    assert squashed(f"alerts webhook: {MASKED}, from {paths.alerts_webhook_file}") in squashed(shown.output)
    document = json.loads(quranbot(home, "config", "show", "--json").output)
    assert document["alerts_webhook"]["masked"] == MASKED

    # a rerun offers it masked; Enter keeps it; "none" removes it
    rerun = quranbot(home, "setup", input="\n" * 13)
    no_secret(rerun.output)
    assert squashed(f"Enter keeps {MASKED}, none removes it") in squashed(rerun.output)
    assert paths.alerts_webhook_file.read_text() == URL + "\n"
    removed = quranbot(home, "setup", input="\n" * 11 + lines("none", "y"))
    assert removed.exit_code == 0 and "Removed the alerts webhook URL." in flat(removed.output)
    assert not paths.alerts_webhook_file.exists()


def test_no_prompt_takes_the_webhook_from_a_file_and_the_alerts_keys(tmp_path: Path) -> None:
    home, paths = tmp_path / "home", Paths.under(tmp_path / "home")
    token_file, hook_file = tmp_path / "token", tmp_path / "hook"
    token_file.write_text(TOKEN + "\n")
    hook_file.write_text(URL + "\n")
    result = quranbot(
        home, "setup", "--no-prompt", "--token-file", str(token_file),
        "--alerts-webhook-file", str(hook_file), "--admin-user", str(ADMIN), "--admin-role", str(ROLE),
        "--alerts-channel", str(CHANNEL),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    no_secret(result.output)
    assert paths.alerts_webhook_file.read_text() == URL + "\n"
    alerts = tomllib.loads(paths.config_file.read_text())["alerts"]
    assert alerts == {"admin_user": ADMIN, "admin_role": ROLE, "channel": CHANNEL}

    bad = tmp_path / "bad"
    bad.write_text(URL.replace("discord.com", "discord.example") + "\n")
    refused = quranbot(home, "setup", "--no-prompt", "--alerts-webhook-file", str(bad))
    assert refused.exit_code == 2
    no_secret(refused.output)
    assert f"--alerts-webhook-file: Webhook URL file {bad}: a webhook URL is on discord.com, not " in flat(
        refused.output
    )
    assert paths.alerts_webhook_file.read_text() == URL + "\n"  # nothing changed

    gone = quranbot(home, "setup", "--no-prompt", "--no-alerts-webhook")
    assert gone.exit_code == 0 and not paths.alerts_webhook_file.exists()


def test_config_set_checks_the_alerts_keys(tmp_path: Path) -> None:
    for key, value, said in (
        ("alerts.channel", str(CHANNEL), f"alerts.channel = {CHANNEL}"),
        ("alerts.admin_role", str(ROLE), f"alerts.admin_role = {ROLE}"),
        ("alerts.min_level", "Warning", 'alerts.min_level = "warning"'),
        ("alerts.categories", "system, error", 'alerts.categories = ["error", "system"]'),
        ("alerts.heartbeat", "8:30", 'alerts.heartbeat = "08:30"'),
        ("alerts.heartbeat", "none", "alerts.heartbeat cleared (not set: no heartbeat)"),
    ):
        result = quranbot(tmp_path, "config", "set", key, value)
        assert result.exit_code == 0, result.output
        assert flat(result.output).startswith(said), result.output
    for key, value, reason in (
        (
            "alerts.min_level",
            "debug",
            '"debug" is not an alert level (one of info, warning, error, critical)',
        ),
        ("alerts.categories", "errors", '"errors" is not an alert category (error, system, heartbeat;'),
        ("alerts.heartbeat", "25:00", '"25:00" is not a time of day'),
        ("alerts.channel", "#general", '"#general" is not a Discord id'),
    ):
        result = quranbot(tmp_path, "config", "set", key, value)
        assert result.exit_code == 2 and reason in flat(result.output), result.output
    alerts = tomllib.loads(Paths.under(tmp_path).config_file.read_text())["alerts"]
    assert alerts == {
        "admin_role": ROLE,
        "channel": CHANNEL,
        "min_level": "warning",
        "categories": ["error", "system"],
    }
