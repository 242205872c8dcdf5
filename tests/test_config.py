"""config.toml: written and read back, every bad value named with its file, key and reason, `quranbot
config show | set | path`, and how `quranbot run` combines the file with its options."""

from __future__ import annotations

import json
import stat
import tomllib
from datetime import timedelta
from pathlib import Path

import discord
import pytest
from config_helpers import flat, masked, quranbot, token_for

from quranbot.bot.invite import invite_url
from quranbot.cli.run import bot_settings
from quranbot.config.load import load_config
from quranbot.config.schema import Config, ConfigError, GuildConfig
from quranbot.config.timezones import system_timezone
from quranbot.config.token import TokenError, application_id, check_token
from quranbot.config.write import write_config
from quranbot.paths import Paths
from quranbot.secret import Secret

GUILD, VOICE, PANEL, ROLE = 111111111111111111, 222222222222222222, 333333333333333333, 444444444444444444
FULL = Config(
    guilds=(
        GuildConfig(GUILD, VOICE, PANEL, ROLE),
        GuildConfig(12345678901234567890, 98765432109876543),  # 20 and 17 digits: the id bounds
    ),
    reciter="sample-tones",
    timezone="America/Argentina/Buenos_Aires",
    backup_interval_minutes=10080,
    pause_when_empty=True,
    admin_user=555555555555555555,
)


def test_written_config_reads_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "config" / "config.toml"
    write_config(path, FULL)
    assert load_config(path) == FULL
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    text = path.read_text()
    assert text.startswith("# QuranBot settings, written by `quranbot setup`")
    assert tomllib.loads(text)["guilds"][1] == {
        "id": 12345678901234567890,
        "voice_channel": 98765432109876543,
    }
    write_config(path, Config())  # unset values leave no key behind
    assert load_config(path) == Config()
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temporary left over


def test_a_missing_file_is_the_defaults_and_ids_may_be_quoted(tmp_path: Path) -> None:
    assert load_config(tmp_path / "absent.toml") == Config()
    path = tmp_path / "config.toml"
    path.write_text(f'[[guilds]]\nid = "{GUILD}"\nvoice_channel = " {VOICE} "\n')
    assert load_config(path).voice_channels == (VOICE,)


NOT_AN_ID = "is not a Discord id (a number of 17–20 digits)"
NOT_MINUTES = "is not a whole number of minutes from 1 to 10080 (a week)"
KEYS = (
    "(the keys are: timezone, recitation.reciter, recitation.pause_when_empty, backup.interval_minutes, "
    "alerts.admin_user, alerts.admin_role, alerts.channel, alerts.min_level, alerts.categories, "
    "alerts.heartbeat, quiz.deadline_seconds, listening.count_deafened, listening.announce_achievements, "
    "listening.role_after_minutes, daily_verse.pool, daily_verse.grace_minutes, audit.max_file_kib, "
    "audit.keep_files, metrics.listen, shard_count, shard_ids, guilds.N.id, "
    "guilds.N.voice_channel, guilds.N.panel_channel, guilds.N.controller_role, guilds.N.quiz_channel, "
    "guilds.N.quiz_every_minutes, guilds.N.listener_role, guilds.N.daily_verse_channel, "
    "guilds.N.daily_verse_time, guilds.N.language)"
)
ONE_GUILD = f"[[guilds]]\nid = {GUILD}\nvoice_channel = {VOICE}\n"
BAD_FILES = {
    f'[[guilds]]\nid = {GUILD}\nvoice_channel = "abc"\n': f'guilds[0].voice_channel: "abc" {NOT_AN_ID}',
    f"[[guilds]]\nid = {GUILD}\nvoice_channel = 123\n": f"guilds[0].voice_channel: 123 {NOT_AN_ID}",
    f"[[guilds]]\nid = {GUILD}\n": "guilds[0].voice_channel: missing (every [[guilds]] entry needs id and "
    "voice_channel)",
    ONE_GUILD + ONE_GUILD: f"guilds[1].id: {GUILD} is already guilds[0].id",
    ONE_GUILD + "voice = 1\n": f"guilds[0].voice: unknown key {KEYS}",
    "guilds = 5\n": "guilds: should be a list of [[guilds]] tables, each with id and voice_channel",
    '[backup]\ninterval_minutes = "hourly"\n': f'backup.interval_minutes: "hourly" {NOT_MINUTES}',
    "[backup]\ninterval_minutes = 0\n": f"backup.interval_minutes: 0 {NOT_MINUTES}",
    "[backup]\ninterval_minutes = true\n": f"backup.interval_minutes: true {NOT_MINUTES}",
    "[recitation]\npause_when_empty = 2\n": "recitation.pause_when_empty: 2 is not true or false",
    '[recitation]\nreciter = "Some Reciter"\n': 'recitation.reciter: "Some Reciter" is not a reciter folder '
    "name (lowercase letters, digits and dashes, as in the Folder column of `quranbot reciter list`)",
    'timezone = "Mecca"\n': 'timezone: "Mecca" is not a time zone (an IANA name such as "Europe/London" or '
    '"UTC"; `timedatectl list-timezones` lists them)',
    'timezone = "../../etc/passwd"\n': 'timezone: "../../etc/passwd" is not a time zone',
    "[alerts]\nadmin_user = -1\n": f"alerts.admin_user: -1 {NOT_AN_ID}",
    "[quiz]\ndeadline_seconds = 5\n": "quiz.deadline_seconds: 5 is not a whole number of seconds "
    "from 10 to 300",
    "[listening]\nrole_after_minutes = -1\n": "listening.role_after_minutes: -1 is not a whole number of "
    "minutes from 0 to 1440",
    f"{ONE_GUILD}listener_role = 5\n": f"guilds[0].listener_role: 5 {NOT_AN_ID}",
    f"{ONE_GUILD}quiz_every_minutes = 2\n": "guilds[0].quiz_every_minutes: 2 is not a whole number "
    "of minutes from 5 to 1440",
    "[backup\n": "not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 8)",
    "token = 1\n": f"token: unknown key {KEYS}",
    "shard_count = 1\n": "shard_count: 1 is no sharding: leave shard_count out (the state stays where it is)",
    "shard_count = 0\n": "shard_count: 0 is not a whole number of shards from 2 to 4096",
    'shard_count = "two"\n': 'shard_count: "two" is not a whole number of shards from 2 to 4096',
    "shard_ids = [0]\n": "shard_ids: needs shard_count (how many shards there are in all)",
    "shard_count = 2\nshard_ids = [0, 2]\n": "shard_ids: shard 2 is not one of shard_count's 2 (0 to 1)",
    "shard_count = 2\nshard_ids = [1, 1]\n": "shard_ids: shard 1 is listed twice",
    "shard_count = 2\nshard_ids = []\n": "shard_ids: [] is not a list of shard ids (such as [0, 1])",
    "shard_count = 2\nshard_ids = [-1]\n": "shard_ids: -1 is not a shard id (a whole number from 0)",
}


@pytest.mark.parametrize("text", BAD_FILES)
def test_a_bad_file_names_the_file_the_key_and_the_reason(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: {BAD_FILES[text]}")


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'timezone = "\xff"\n')
    with pytest.raises(ConfigError, match=r"config\.toml: not UTF-8 text$"):
        load_config(path)


# -- the token, the invite, the time zone ------------------------------------------------------------------


def test_token_shape_and_application_id() -> None:
    token = token_for(1234567890123456789)
    assert application_id(check_token(f"  {token}\n")) == 1234567890123456789
    for bad in (
        "",
        "a.b",
        "a.b.c.d",
        "MTIz.ab cd.ef",
        "YWJj.def.ghi",
        "MTIzNDU2.def.ghi",
    ):  # MTIzNDU2: "123456"
        with pytest.raises(TokenError) as caught:
            check_token(bad)
        assert bad not in str(caught.value) or not bad


def test_the_invite_asks_for_exactly_what_the_bot_uses() -> None:
    url = invite_url(1234567890123456789)
    assert url.startswith("https://discord.com/oauth2/authorize?client_id=1234567890123456789&")
    assert "scope=bot+applications.commands" in url
    value = int(url.rsplit("permissions=", 1)[1])
    needed = ("view_channel", "send_messages", "embed_links", "read_message_history", "connect", "speak")
    assert discord.Permissions(value) == discord.Permissions(**dict.fromkeys(needed, True))
    assert value == 3230720  # nothing more: no administrator, no moderation, no mentions


def test_the_servers_time_zone(tmp_path: Path) -> None:
    debian = tmp_path / "debian"
    debian.mkdir()
    (debian / "timezone").write_text("Asia/Riyadh\n")
    assert system_timezone(debian) == "Asia/Riyadh"
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "localtime").symlink_to("/usr/share/zoneinfo/Europe/Paris")
    assert system_timezone(linked) == "Europe/Paris"
    (tmp_path / "bare").mkdir()
    assert system_timezone(tmp_path / "bare") == "UTC"


# -- quranbot config -------------------------------------------------------------------------------------


def test_config_path_show_and_set(home: Path) -> None:
    paths = Paths.under(home)
    assert quranbot(home, "config", "path").output.strip() == str(paths.config_file)
    shown = quranbot(home, "config", "show")
    assert shown.exit_code == 0
    assert "(no such file yet: these are the defaults)" in flat(shown.output)
    assert "backup.interval_minutes 60" in flat(shown.output)

    for key, value, said in (
        ("backup.interval_minutes", "30", "backup.interval_minutes = 30"),
        ("timezone", "Africa/Cairo", 'timezone = "Africa/Cairo"'),
        ("recitation.pause_when_empty", "yes", "recitation.pause_when_empty = true"),
        ("recitation.reciter", "none", "recitation.reciter cleared (not set: the first imported reciter)"),
        ("recitation.reciter", "Sample tones", 'recitation.reciter = "sample-tones"'),  # name → folder
        ("alerts.admin_user", "555555555555555555", "alerts.admin_user = 555555555555555555"),
        ("alerts.admin_user", "none", "alerts.admin_user cleared (not set: alerts ping no user)"),
        ("shard_count", "4", "shard_count = 4"),
        ("shard_ids", "3, 1", "shard_ids = [3, 1]"),
        ("shard_ids", "none", "shard_ids cleared (not set: every shard of shard_count)"),
        ("shard_ids", "2", "shard_ids = [2]"),
    ):
        result = quranbot(home, "config", "set", key, value)
        assert result.exit_code == 0, result.output
        assert flat(result.output) == f"{said} in {paths.config_file}"
    assert stat.S_IMODE(paths.config_file.stat().st_mode) == 0o640
    assert load_config(paths.config_file) == Config(
        reciter="sample-tones",
        timezone="Africa/Cairo",
        backup_interval_minutes=30,
        pause_when_empty=True,
        shard_count=4,
        shard_ids=(2,),
    )
    assert "shard_count = 4\nshard_ids = [2]\n" in paths.config_file.read_text()
    shown = flat(quranbot(home, "config", "show").output)
    assert 'timezone "Africa/Cairo"' in shown and 'recitation.reciter "sample-tones"' in shown


def test_config_set_edits_a_servers_keys(home: Path) -> None:
    paths = Paths.under(home)
    write_config(paths.config_file, Config(guilds=(GuildConfig(GUILD, VOICE),)))
    assert quranbot(home, "config", "set", "guilds.0.voice_channel", str(PANEL)).exit_code == 0
    assert quranbot(home, "config", "set", "guilds[0].controller_role", str(ROLE)).exit_code == 0
    assert load_config(paths.config_file).guilds == (GuildConfig(GUILD, PANEL, None, ROLE),)


REFUSED = [
    (["backup.every", "30"], f"error: backup.every: unknown key {KEYS}"),
    (["backup.interval_minutes", "0"], f'error: backup.interval_minutes: "0" {NOT_MINUTES}'),
    (["timezone", "Mars/Olympus"], 'error: timezone: "Mars/Olympus" is not a time zone'),
    (["recitation.reciter", "nobody"], 'error: recitation.reciter: "nobody" is not an imported reciter '
     "(imported: sample-tones)"),
    (["recitation.pause_when_empty", "sometimes"], 'error: recitation.pause_when_empty: "sometimes" is not '
     "true or false"),
    (["guilds.0.voice_channel", str(VOICE)], "error: guilds[0].voice_channel: config.toml has no servers "
     "yet; `quranbot setup` adds one"),
    (["guilds.0.channel", str(VOICE)], f"error: guilds.0.channel: unknown key {KEYS}"),
    (["shard_ids", "0"], "error: shard_ids: needs shard_count (how many shards there are in all)"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), REFUSED, ids=[r[0][0] for r in REFUSED])
def test_config_set_refuses_bad_keys_and_values_and_changes_nothing(
    home: Path, args: list[str], message: str
) -> None:
    paths = Paths.under(home)
    write_config(paths.config_file, Config(timezone="UTC"))
    before = paths.config_file.read_bytes()
    result = quranbot(home, "config", "set", *args)
    assert result.exit_code == 2
    assert flat(result.output).startswith(message)
    assert paths.config_file.read_bytes() == before


def test_config_show_json_has_the_token_masked(tmp_path: Path) -> None:
    paths = Paths.under(tmp_path)
    token = token_for(1234567890123456789)
    assert quranbot(tmp_path, "config", "set", "timezone", "UTC").exit_code == 0
    paths.token_file.write_text(token + "\n")
    result = quranbot(tmp_path, "config", "show", "--json")
    assert result.exit_code == 0 and token not in result.output
    assert json.loads(result.output) == {
        "file": str(paths.config_file),
        "exists": True,
        "token": {"source": str(paths.token_file), "masked": masked(token), "problem": None},
        "alerts_webhook": {"file": str(paths.alerts_webhook_file), "masked": None, "problem": None},
        "settings": {
            "timezone": "UTC",
            "recitation": {"reciter": None, "pause_when_empty": False},
            "backup": {"interval_minutes": 60},
            "alerts": {
                "admin_user": None,
                "admin_role": None,
                "channel": None,
                "min_level": None,
                "categories": None,
                "heartbeat": None,
            },
            "quiz": {"deadline_seconds": None},
            "listening": {"count_deafened": False, "announce_achievements": False, "role_after_minutes": 0},
            "daily_verse": {"pool": None, "grace_minutes": 360},
            "audit": {"max_file_kib": 1024, "keep_files": 3},
            "metrics": {"listen": None},
            "shard_count": None,
            "shard_ids": None,
            "guilds": [],
        },
    }
    table = quranbot(tmp_path, "config", "show")
    assert f"token: {masked(token)}, from {paths.token_file}" in flat(table.output)
    assert token not in table.output


def test_config_commands_refuse_a_malformed_file(tmp_path: Path) -> None:
    paths = Paths.under(tmp_path)
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text("[backup]\ninterval_minutes = 'x'\n")
    for args in (["show"], ["show", "--json"], ["set", "timezone", "UTC"]):
        result = quranbot(tmp_path, "config", *args)
        assert result.exit_code == 1
        assert flat(result.output) == (
            f'error: {paths.config_file}: backup.interval_minutes: "x" {NOT_MINUTES}'
        )
    assert paths.config_file.read_text() == "[backup]\ninterval_minutes = 'x'\n"


# -- quranbot run: config.toml, with the options on top ----------------------------------------------------


def test_run_takes_config_toml_unless_an_option_is_given() -> None:
    token = Secret(token_for(1234567890123456789))
    from_file = bot_settings(FULL, token)
    assert from_file.voice_channels == (VOICE, 98765432109876543)
    assert from_file.backup_interval == timedelta(weeks=1) and from_file.pause_when_empty is True
    given = bot_settings(FULL, token, voice_channels=[PANEL], backup_every=5, pause_when_empty=False)
    assert given.voice_channels == (PANEL,)
    assert given.backup_interval == timedelta(minutes=5) and given.pause_when_empty is False
    defaults = bot_settings(Config(), token)
    assert defaults.voice_channels == () and defaults.backup_interval == timedelta(hours=1)
    assert defaults.pause_when_empty is False
