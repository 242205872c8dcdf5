"""The keys of config.toml (`backup.interval_minutes`, `guilds[0].voice_channel`, ...) and how each maps to
the `Config` records: reading a parsed TOML document, setting one dotted key, and listing them back.

The table below is the single list of keys: the file's layout, `config set`, `config show` and the error
that lists the valid keys all come from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from quranbot.config.rules import (
    BadValue,
    alert_categories,
    alert_level,
    audit_keep,
    audit_max_kib,
    ayah_references,
    backup_minutes,
    boolean,
    daily_verse_grace,
    discord_id,
    language,
    listen_address,
    optional,
    quiz_deadline,
    quiz_interval,
    reciter_slug,
    role_after_minutes,
    shard_count,
    shard_ids,
    time_of_day,
    timezone_name,
)
from quranbot.config.schema import Config, ConfigError, GuildConfig

GUILDS = "guilds"
RECITER_KEY = "recitation.reciter"


@dataclass(frozen=True)
class Setting:
    #: The dotted name: a section and a key (`backup.interval_minutes`), or a key alone at the top.
    key: str
    #: The attribute of `Config` (or of `GuildConfig`, for the keys of a guild).
    attr: str
    rule: Callable[[object], object]
    #: What an unset optional value means, for `config show`.
    unset: str = "not set"


SETTINGS = (
    Setting("timezone", "timezone", optional(timezone_name), "not set: the server's time zone"),
    Setting(RECITER_KEY, "reciter", optional(reciter_slug), "not set: the first imported reciter"),
    Setting("recitation.pause_when_empty", "pause_when_empty", boolean),
    Setting("backup.interval_minutes", "backup_interval_minutes", backup_minutes),
    Setting("alerts.admin_user", "admin_user", optional(discord_id), "not set: alerts ping no user"),
    Setting("alerts.admin_role", "admin_role", optional(discord_id), "not set: alerts ping no role"),
    Setting("alerts.channel", "alerts_channel", optional(discord_id), "not set: /setup log_channel's"),
    Setting("alerts.min_level", "alerts_min_level", optional(alert_level), "not set: info (everything)"),
    Setting("alerts.categories", "alerts_categories", optional(alert_categories), "not set: all"),
    Setting("alerts.heartbeat", "alerts_heartbeat", optional(time_of_day), "not set: no heartbeat"),
    Setting("quiz.deadline_seconds", "quiz_deadline_seconds", optional(quiz_deadline), "not set: 30 s"),
    Setting("listening.count_deafened", "count_deafened", boolean),
    Setting("listening.announce_achievements", "announce_achievements", boolean),
    Setting("listening.role_after_minutes", "role_after_minutes", role_after_minutes),
    Setting("daily_verse.pool", "daily_verse_pool", optional(ayah_references), "not set: all 6,236 ayahs"),
    Setting("daily_verse.grace_minutes", "daily_verse_grace_minutes", daily_verse_grace),
    Setting("audit.max_file_kib", "audit_max_kib", audit_max_kib),
    Setting("audit.keep_files", "audit_keep", audit_keep),
    Setting("metrics.listen", "metrics_listen", optional(listen_address), "not set: no metrics"),
    Setting("shard_count", "shard_count", optional(shard_count), "not set: one process, no sharding"),
    Setting("shard_ids", "shard_ids", optional(shard_ids), "not set: every shard of shard_count"),
)
GUILD_SETTINGS = (
    Setting("id", "id", discord_id),
    Setting("voice_channel", "voice_channel", discord_id),
    Setting("panel_channel", "panel_channel", optional(discord_id), "not set: /panel posts it"),
    Setting("controller_role", "controller_role", optional(discord_id), "not set: every member may steer"),
    Setting("quiz_channel", "quiz_channel", optional(discord_id), "not set: no scheduled quiz"),
    Setting(
        "quiz_every_minutes", "quiz_every_minutes", optional(quiz_interval), "not set: no scheduled quiz"
    ),
    Setting("listener_role", "listener_role", optional(discord_id), "not set: no listener role"),
    Setting("daily_verse_channel", "daily_verse_channel", optional(discord_id), "not set: no daily verse"),
    Setting("daily_verse_time", "daily_verse_time", optional(time_of_day), "not set: 07:00"),
    Setting("language", "language", optional(language), "not set: the server's preferred locale, else en"),
)
REQUIRED_GUILD_KEYS = ("id", "voice_channel")
_BY_KEY = {s.key: s for s in SETTINGS}
_GUILD_BY_KEY = {s.key: s for s in GUILD_SETTINGS}
_GUILD_KEY = re.compile(r"guilds(?:\.(\d+)|\[(\d+)\])\.(\w+)")


def valid_keys() -> list[str]:
    return [s.key for s in SETTINGS] + [f"{GUILDS}.N.{s.key}" for s in GUILD_SETTINGS]


def unknown_key(key: str) -> ConfigError:
    return ConfigError(f"unknown key (the keys are: {', '.join(valid_keys())})", key)


def guild_key(index: int, key: str) -> str:
    return f"{GUILDS}[{index}].{key}"


def _checked(setting: Setting, key: str, value: object) -> object:
    try:
        return setting.rule(value)
    except BadValue as exc:
        raise ConfigError(str(exc), key) from None


def from_document(document: dict[str, Any]) -> Config:
    """The `Config` a parsed config.toml describes; a `ConfigError` names the first bad key."""
    values: dict[str, Any] = {}
    guilds: tuple[GuildConfig, ...] = ()
    for name, value in document.items():
        if name == GUILDS:
            guilds = _guilds(value)
        elif isinstance(value, dict):
            for sub, sub_value in value.items():
                _collect(values, f"{name}.{sub}", sub_value)
        else:
            _collect(values, name, value)
    config = Config(guilds=guilds, **values)
    check_guilds(config)
    check_shards(config)
    return config


def _collect(values: dict[str, Any], key: str, value: object) -> None:
    setting = _BY_KEY.get(key)
    if setting is None:
        raise unknown_key(key)
    values[setting.attr] = _checked(setting, key, value)


def _guilds(value: object) -> tuple[GuildConfig, ...]:
    if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
        raise ConfigError("should be a list of [[guilds]] tables, each with id and voice_channel", GUILDS)
    return tuple(_guild(index, entry) for index, entry in enumerate(value))


def _guild(index: int, entry: dict[str, Any]) -> GuildConfig:
    values: dict[str, Any] = {}
    for key, value in entry.items():
        setting = _GUILD_BY_KEY.get(key)
        if setting is None:
            raise unknown_key(guild_key(index, key))
        values[setting.attr] = _checked(setting, guild_key(index, key), value)
    for key in REQUIRED_GUILD_KEYS:
        if values.get(key) is None:
            raise ConfigError(
                "missing (every [[guilds]] entry needs id and voice_channel)", guild_key(index, key)
            )
    return GuildConfig(**values)


def check_guilds(config: Config) -> None:
    """A server may appear once: two entries for one guild would fight over its voice connection."""
    seen: dict[int, int] = {}
    for index, guild in enumerate(config.guilds):
        if guild.id in seen:
            raise ConfigError(
                f"{guild.id} is already {guild_key(seen[guild.id], 'id')}", guild_key(index, "id")
            )
        seen[guild.id] = index


def check_shards(config: Config) -> None:
    """shard_ids only make sense with shard_count, and each must be a shard of it (0 to count - 1), as
    Discord refuses any other IDENTIFY (close code 4010)."""
    if config.shard_ids is None:
        return
    if config.shard_count is None:
        raise ConfigError("needs shard_count (how many shards there are in all)", "shard_ids")
    wrong = [shard for shard in config.shard_ids if shard >= config.shard_count]
    if wrong:
        raise ConfigError(
            f"shard {wrong[0]} is not one of shard_count's {config.shard_count} "
            f"(0 to {config.shard_count - 1})",
            "shard_ids",
        )


@dataclass(frozen=True)
class Place:
    """Where a dotted key points: a setting, and which server's (None for the settings of the bot)."""

    setting: Setting
    index: int | None
    #: The key as errors and `config show` write it: `guilds[0].voice_channel`.
    shown_key: str


def locate(config: Config, key: str) -> Place:
    """The setting a dotted key names (`backup.interval_minutes`, `guilds.0.voice_channel`)."""
    match = _GUILD_KEY.fullmatch(key)
    if match is None:
        setting = _BY_KEY.get(key)
        if setting is None:
            raise unknown_key(key)
        return Place(setting, None, key)
    index = int(match.group(1) or match.group(2))
    setting = _GUILD_BY_KEY.get(match.group(3))
    if setting is None:
        raise unknown_key(key)
    count = len(config.guilds)
    if index >= count:
        raise ConfigError(
            f"there is no server {index} (config.toml has {count}: {_indexes(count)}); "
            "`quranbot setup` adds one"
            if count
            else "config.toml has no servers yet; `quranbot setup` adds one",
            guild_key(index, setting.key),
        )
    return Place(setting, index, guild_key(index, setting.key))


def _indexes(count: int) -> str:
    return f"{GUILDS}.0" if count == 1 else f"{GUILDS}.0 to {GUILDS}.{count - 1}"


def get_value(config: Config, key: str) -> object:
    place = locate(config, key)
    holder = config if place.index is None else config.guilds[place.index]
    return getattr(holder, place.setting.attr)


def set_value(
    config: Config, key: str, value: object, rule: Callable[[object], object] | None = None
) -> Config:
    """`config` with one dotted key changed, the value checked by the key's rule.

    `rule` replaces that rule where the caller knows more (e.g. which reciters are imported).
    """
    place = locate(config, key)
    checked: Any = _checked(replace(place.setting, rule=rule or place.setting.rule), place.shown_key, value)
    if place.index is None:
        changed = replace(config, **{place.setting.attr: checked})
        check_shards(changed)
        return changed
    guild = replace(config.guilds[place.index], **{place.setting.attr: checked})
    changed = replace(
        config, guilds=tuple(guild if i == place.index else g for i, g in enumerate(config.guilds))
    )
    check_guilds(changed)
    return changed


def flat_items(config: Config) -> list[tuple[Setting, str, object]]:
    """Every key with its value, in the file's order: the settings, then each guild's keys."""
    items: list[tuple[Setting, str, object]] = [(s, s.key, getattr(config, s.attr)) for s in SETTINGS]
    for index, guild in enumerate(config.guilds):
        items += [(s, guild_key(index, s.key), getattr(guild, s.attr)) for s in GUILD_SETTINGS]
    return items


def to_document(config: Config, include_unset: bool = False) -> dict[str, Any]:
    """The nested form of config.toml (and of `config show --json`); unset optional values are left out
    unless `include_unset` (then they are None)."""
    document: dict[str, Any] = {}
    for setting in SETTINGS:
        value = getattr(config, setting.attr)
        if value is None and not include_unset:
            continue
        section, _, name = setting.key.rpartition(".")
        (document.setdefault(section, {}) if section else document)[name] = value
    guilds = []
    for guild in config.guilds:
        entry = {s.key: getattr(guild, s.attr) for s in GUILD_SETTINGS}
        guilds.append({k: v for k, v in entry.items() if v is not None or include_unset})
    document[GUILDS] = guilds
    return document
