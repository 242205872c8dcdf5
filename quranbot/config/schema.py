"""The settings config.toml holds, as frozen records, and the error that names the file and the key."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

#: Backups run this often unless config.toml or `--backup-every` says otherwise.
DEFAULT_BACKUP_MINUTES = 60
#: A quiz question stays open this long unless config.toml or `/quiz deadline` says otherwise.
DEFAULT_QUIZ_DEADLINE = 30
#: The daily verse is posted at this time of day (the guild's clock) unless a time is set.
DEFAULT_DAILY_VERSE_TIME = "07:00"
#: A daily verse missed while the bot was down is still posted up to this late.
DEFAULT_DAILY_VERSE_GRACE_MINUTES = 360
#: Alerts from this level up are sent (system events are "info").
DEFAULT_ALERTS_MIN_LEVEL = "info"
#: The audit trail's bound: 1 MiB a file, the current one and three rotated (about 4 MiB in all).
DEFAULT_AUDIT_MAX_KIB = 1024
DEFAULT_AUDIT_KEEP = 3


@dataclass(frozen=True)
class GuildConfig:
    """One Discord server: where to recite, and optionally where the panel lives and who may steer."""

    id: int
    voice_channel: int
    panel_channel: int | None = None
    #: None: every member may steer (Manage Server always may).
    controller_role: int | None = None
    #: The scheduled quiz: the text channel it is posted in, and every how many minutes.
    quiz_channel: int | None = None
    quiz_every_minutes: int | None = None
    #: Given to members while they listen; None: no listener role.
    listener_role: int | None = None
    #: The daily verse: its text channel (None: none) and time of day, "HH:MM" on the guild's clock.
    daily_verse_channel: int | None = None
    daily_verse_time: str | None = None
    #: What members read in this server: "en" or "ar" (a server's `/setup language` wins); None: the
    #: server's preferred locale, else English.
    language: str | None = None


@dataclass(frozen=True)
class Config:
    """Everything config.toml can say; a missing file means these defaults."""

    guilds: tuple[GuildConfig, ...] = ()
    #: A reciter's folder name (slug); None: the first imported reciter.
    reciter: str | None = None
    #: An IANA time zone name; None: the server's own time zone.
    timezone: str | None = None
    backup_interval_minutes: int = DEFAULT_BACKUP_MINUTES
    pause_when_empty: bool = False
    #: The Discord user (and role) error and critical alerts ping; None: they ping nobody.
    admin_user: int | None = None
    admin_role: int | None = None
    #: The text channel the bot posts alerts in itself (when no webhook URL is saved; a server's
    #: `/setup log_channel` wins); None: no alert channel.
    alerts_channel: int | None = None
    #: The least serious alerts sent ("info", "warning", "error", "critical"); None: DEFAULT_ALERTS_MIN_LEVEL.
    alerts_min_level: str | None = None
    #: The kinds of alert sent ("error", "system", "heartbeat"); None: all of them.
    alerts_categories: tuple[str, ...] | None = None
    #: The daily heartbeat's time of day ("HH:MM" on the `timezone` clock); None: no heartbeat.
    alerts_heartbeat: str | None = None
    #: Seconds a quiz question stays open (a guild's `/quiz deadline` wins); None: DEFAULT_QUIZ_DEADLINE.
    quiz_deadline_seconds: int | None = None
    #: Count a self- or server-deafened member as listening (they hear nothing, so by default not).
    count_deafened: bool = False
    #: Post "earned an achievement" in the panel channel (off: members see them in /stats only).
    announce_achievements: bool = False
    #: The listener role is given after this many minutes of listening (0: at once).
    role_after_minutes: int = 0
    #: The daily verse's ayahs ("S:A"); None: every ayah of the Quran.
    daily_verse_pool: tuple[str, ...] | None = None
    daily_verse_grace_minutes: int = DEFAULT_DAILY_VERSE_GRACE_MINUTES
    #: The audit trail: `audit.jsonl` rotates at this many KiB; this many rotated files are kept.
    audit_max_kib: int = DEFAULT_AUDIT_MAX_KIB
    audit_keep: int = DEFAULT_AUDIT_KEEP
    #: Where `/metrics` listens, `HOST:PORT` as checked by the rule (an IP address); None: no metrics.
    metrics_listen: str | None = None
    #: Gateway sharding (docs/SCALING.md): how many shards in all, over every machine; None: unsharded.
    shard_count: int | None = None
    #: The shards this machine runs, one process each; None: every shard of `shard_count`.
    shard_ids: tuple[int, ...] | None = None

    @property
    def voice_channels(self) -> tuple[int, ...]:
        return tuple(guild.voice_channel for guild in self.guilds)

    @property
    def machine_shards(self) -> tuple[int, ...]:
        """The shards this machine runs: `shard_ids`, else all of `shard_count`; () when unsharded."""
        if self.shard_count is None:
            return ()
        return self.shard_ids if self.shard_ids is not None else tuple(range(self.shard_count))


class ConfigError(ValueError):
    """A value config.toml (or a command line) may not hold: `FILE: KEY: REASON`, each part if known."""

    def __init__(self, reason: str, key: str | None = None, file: Path | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.key = key
        self.file = file

    def in_file(self, file: Path) -> ConfigError:
        return ConfigError(self.reason, self.key, file)

    def __str__(self) -> str:
        return ": ".join(str(part) for part in (self.file, self.key, self.reason) if part is not None)


def with_guild(config: Config, guild: GuildConfig) -> Config:
    """`config` with `guild` replacing the entry of the same id, or added after the others."""
    if any(g.id == guild.id for g in config.guilds):
        return replace(config, guilds=tuple(guild if g.id == guild.id else g for g in config.guilds))
    return replace(config, guilds=(*config.guilds, guild))
