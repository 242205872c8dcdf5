"""What the bot needs to know about alerts: where they go, whom they ping, which ones, and the heartbeat.

`quranbot run` builds it from config.toml's `[alerts]` and the webhook URL file (cli/run.py); tests hand
it over directly, as they do the other settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from quranbot.alerts.alert import ALL_CATEGORIES, Category, Level
from quranbot.alerts.layout import Ping
from quranbot.alerts.webhook_url import webhook_secrets
from quranbot.secret import Secret


@dataclass(frozen=True)
class AlertSettings:
    #: The webhook alerts are posted to; when None, the channel below (or /setup log_channel's).
    webhook: Secret | None = None
    #: config.toml's `alerts.channel`: the text channel the bot posts alerts in itself, unless a server
    #: set its own with /setup log_channel.
    channel_id: int | None = None
    ping_user: int | None = None
    ping_role: int | None = None
    min_level: Level = Level.INFO
    categories: frozenset[Category] = ALL_CATEGORIES
    #: The daily heartbeat's time of day, "HH:MM" on the bot's clock; None: no heartbeat.
    heartbeat: str | None = None

    @property
    def ping(self) -> Ping:
        return Ping(self.ping_user, self.ping_role)

    def secrets(self) -> tuple[Secret, ...]:
        """What must never appear in a log line or an alert: the webhook URL and its token part."""
        return () if self.webhook is None else webhook_secrets(self.webhook)
