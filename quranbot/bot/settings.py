"""What `quranbot run` needs to start: the token, where to play, and what to play.

`cli/run.py` builds it from config.toml (`quranbot.config`) with the command-line options on top; the
bot itself never reads the file, so tests and the demo hand it settings directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from quranbot.alerts.settings import AlertSettings
from quranbot.audit.writer import DEFAULT_KEEP, DEFAULT_MAX_BYTES
from quranbot.config.schema import DEFAULT_DAILY_VERSE_GRACE_MINUTES, DEFAULT_QUIZ_DEADLINE
from quranbot.metrics.address import ListenAddress
from quranbot.secret import Secret
from quranbot.shards.ownership import Shard
from quranbot.store.records import GuildSettings


@dataclass(frozen=True)
class BotSettings:
    token: Secret
    #: Voice channels to join and keep playing in, at most one per guild.
    voice_channels: tuple[int, ...] = field(default_factory=tuple)
    #: Seconds between writes of the playback position (a SIGKILL loses at most this much).
    flush_interval: float = 2.0
    #: Seconds between writes of listening statistics (a larger file, written less often).
    statistics_interval: float = 30.0
    #: How often the state is backed up.
    backup_interval: timedelta = timedelta(hours=1)
    #: Pause while nobody (but bots) is in the voice channel, resume when someone joins. Off by default:
    #: the recitation goes on in an empty room too.
    pause_when_empty: bool = False
    #: config.toml's servers (voice channel, panel channel, controller role), for what Discord's /setup
    #: has not set.
    guild_defaults: tuple[GuildSettings, ...] = field(default_factory=tuple)
    #: The reciter (slug) a server starts with before anyone picks one; None: the first imported.
    default_reciter: str | None = None
    #: config.toml's time zone (IANA name) for what members read as a date; None: the server's own.
    timezone: str | None = None
    #: Seconds a quiz question stays open, unless a guild set its own (`/quiz deadline`).
    quiz_deadline_seconds: int = DEFAULT_QUIZ_DEADLINE
    #: config.toml's scheduled quizzes: guild id -> (channel id, minutes), for guilds that set none.
    quiz_schedules: dict[int, tuple[int, int]] = field(default_factory=dict)
    #: Listening statistics: count deafened members, announce achievements, listener role delay.
    count_deafened: bool = False
    announce_achievements: bool = False
    role_after_minutes: float = 0
    #: The daily verse's ayahs ("S:A", checked by config.toml's rules); empty: every ayah.
    daily_verse_pool: tuple[str, ...] = ()
    #: A daily verse missed while the bot was down is still posted up to this late.
    daily_verse_grace: timedelta = timedelta(minutes=DEFAULT_DAILY_VERSE_GRACE_MINUTES)
    #: The audit trail's bound: `audit.jsonl` rotates at this size, and this many rotated files are kept.
    audit_max_bytes: int = DEFAULT_MAX_BYTES
    audit_keep: int = DEFAULT_KEEP
    #: Where alerts go (a webhook, or a channel), whom errors ping, which alerts, the heartbeat.
    alerts: AlertSettings = field(default_factory=AlertSettings)
    #: Where `/metrics` is served (config.toml's metrics.listen, or --metrics); None: no metrics.
    metrics_listen: ListenAddress | None = None
    #: The gateway shard this process runs (docs/SCALING.md); None: unsharded, every guild.
    shard: Shard | None = None
