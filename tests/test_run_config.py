"""`quranbot run` with the settings `quranbot setup` saved: a real bot process against the sandbox."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from config_helpers import quranbot, token_for
from processes import finish, quranbot_running, start_quranbot, stop_quranbot
from test_panel import panels, until

from quranbot.paths import Paths
from quranbot.sandbox.model import ChannelType
from quranbot.sandbox.server import Sandbox


async def test_run_recites_in_every_voice_channel_config_toml_names(sandbox: Sandbox, home: Path) -> None:
    default, world = sandbox.default, sandbox.world
    second = world.add_guild("Second Guild", world.new_user("owner2"))
    second.members[default.bot.user.id] = default.bot
    hall = world.add_channel(second, "Hall", ChannelType.VOICE)
    paths = Paths.under(home)
    token_file = str(sandbox.directory / "token")
    for guild, voice in ((default.guild, default.voice), (second, hall)):
        saved = quranbot(
            home, "setup", "--no-prompt", "--token-file", token_file,
            "--guild", str(guild.id), "--voice-channel", str(voice.id),
        )  # fmt: skip
        assert saved.exit_code == 0, saved.output

    # no --voice-channel: both come from config.toml; the token is the one setup saved
    args = ["--home", str(home), "run", "--sandbox", sandbox.url, "--sandbox-cert", str(sandbox.cert_file),
            "--token-file", str(paths.token_file)]  # fmt: skip
    async with quranbot_running(*args) as bot:
        await sandbox.listener(default.voice).wait_for_packets(50, timeout=20)
        await sandbox.listener(hall).wait_for_packets(50, timeout=20)
        code, _, err = await stop_quranbot(bot)
    assert code == 0, err
    assert sandbox.token not in err


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[[guilds]]\nid = 111111111111111111\nvoice_channel = \"abc\"\n",
         'guilds[0].voice_channel: "abc" is not a Discord id (a number of 17–20 digits)'),
        ("[backup]\ninterval_minutes = 30\n[backup]\n",
         "not valid TOML: Cannot declare ('backup',) twice (at line 3, column 8)"),
    ],
    ids=["bad-value", "bad-toml"],
)  # fmt: skip
async def test_run_refuses_a_malformed_config_toml_clearly(tmp_path: Path, text: str, reason: str) -> None:
    paths = Paths.under(tmp_path)
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text(text)
    token = token_for(1234567890123456789)
    paths.token_file.write_text(token + "\n")
    code, out, err = await finish(await start_quranbot("--home", str(tmp_path), "run"))
    assert code == 1
    assert " ".join(err.split()) == f"error: {paths.config_file}: {reason}"
    assert "Traceback" not in err and token not in out + err


async def test_config_tomls_panel_channel_role_and_reciter_take_effect(sandbox: Sandbox, home: Path) -> None:
    """Without anyone running /setup in Discord: the panel appears in config.toml's channel, its
    controller role limits who steers, a new server starts with its reciter, and a later edit of the
    file takes effect at the next start (nothing of it was copied into the saved state)."""
    default = sandbox.default
    audio = Paths.under(home).audio_dir
    shutil.copytree(audio / "sample-tones", audio / "second-tones")
    manifest = json.loads((audio / "second-tones" / "manifest.json").read_text())
    manifest.update(slug="second-tones", name="Second tones")
    (audio / "second-tones" / "manifest.json").write_text(json.dumps(manifest))
    saved = quranbot(
        home, "setup", "--no-prompt", "--token-file", str(sandbox.directory / "token"),
        "--guild", str(default.guild.id), "--voice-channel", str(default.voice.id),
        "--panel-channel", str(default.panel.id), "--controller-role", str(default.controller_role.id),
        "--reciter", "second-tones",
    )  # fmt: skip
    assert saved.exit_code == 0, saved.output
    args = ["--home", str(home), "run", "--sandbox", sandbox.url, "--sandbox-cert", str(sandbox.cert_file),
            "--token-file", str(Paths.under(home).token_file)]  # fmt: skip
    async with quranbot_running(*args) as bot:
        await sandbox.listener(default.voice).wait_for_packets(20, timeout=20)
        await until(lambda: panels(sandbox), what="the panel in config.toml's channel")
        status = json.loads((await finish(await start_quranbot("--home", str(home), "status", "--json")))[1])
        assert status["status"]["guilds"][0]["reciter"] == "second-tones"
        refused = await sandbox.run_command(default.listener, default.general, "next")
        assert "Only members with the" in (await refused.wait())["data"]["content"]
        code, _, err = await stop_quranbot(bot)
    assert code == 0, err

    # the file changes: the next start follows it (the panel's message id was saved, not the channel's
    # copy of config.toml's values)
    assert quranbot(home, "config", "set", "guilds.0.controller_role", "none").exit_code == 0
    async with quranbot_running(*args) as bot:
        await sandbox.listener(default.voice).wait_for_packets(sandbox.listener(default.voice).packets + 20,
                                                                timeout=20)  # fmt: skip
        allowed = await sandbox.run_command(default.listener, default.general, "next")
        assert "Skipped" in (await allowed.wait())["data"]["content"]
        await stop_quranbot(bot)


def test_config_toml_quiz_settings_reach_the_bot(tmp_path: Path) -> None:
    """A server's scheduled quiz and the deadline from config.toml become the bot's settings (the
    schedule itself is tested on the sandbox with a fast clock: tests/test_quiz_discord.py)."""
    from quranbot.cli.run import bot_settings
    from quranbot.config.load import load_config
    from quranbot.secret import Secret

    path = tmp_path / "config.toml"
    path.write_text(
        'timezone = "Asia/Riyadh"\n[quiz]\ndeadline_seconds = 45\n'
        "[[guilds]]\nid = 111111111111111111\nvoice_channel = 222222222222222222\n"
        "quiz_channel = 333333333333333333\nquiz_every_minutes = 120\n"
    )
    settings = bot_settings(load_config(path), Secret("x"))
    assert settings.quiz_deadline_seconds == 45 and settings.timezone == "Asia/Riyadh"
    assert settings.quiz_schedules == {111111111111111111: (333333333333333333, 120)}
    assert bot_settings(load_config(tmp_path / "missing.toml"), Secret("x")).quiz_deadline_seconds == 30
