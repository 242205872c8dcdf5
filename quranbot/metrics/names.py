"""Every metric QuranBot exposes: its name, type, labels and meaning, in one list.

The collector and the counters take their names and help texts from here, and tests/test_metrics.py
checks that a scrape shows each of them and that docs/OPERATIONS.md documents each, so the three cannot
drift apart. Names follow Prometheus' conventions: the `quranbot_` prefix, base units (`_seconds`),
`_total` on counters (added by prometheus_client), no member ids as labels; guild ids are a label
because config.toml and /setup bound them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["counter", "gauge", "histogram", "info"]


@dataclass(frozen=True)
class Metric:
    #: The family name, as prometheus_client takes it (a counter's samples add `_total`, an info's `_info`).
    name: str
    kind: Kind
    labels: tuple[str, ...]
    help: str

    @property
    def exposed(self) -> str:
        """The name a scrape shows (and an alert rule or a dashboard queries)."""
        return self.name + {"counter": "_total", "info": "_info"}.get(self.kind, "")


BUILD = Metric(
    "quranbot_build",
    "info",
    ("version", "discordpy_version"),
    "The QuranBot and discord.py running (value 1).",
)
GATEWAY_UP = Metric(
    "quranbot_gateway_up", "gauge", (), "1 while logged in to Discord's gateway with the connection open."
)
GATEWAY_LATENCY = Metric(
    "quranbot_gateway_latency_seconds",
    "gauge",
    (),
    "Time from the last gateway heartbeat to its acknowledgement (absent before the first).",
)
GUILDS = Metric("quranbot_guilds", "gauge", (), "Servers the bot is in.")
VOICE_CONNECTED = Metric(
    "quranbot_voice_connected",
    "gauge",
    ("guild",),
    "1 while connected to the guild's recitation channel, 0 while not (kicked, moved, dropped, rejoining).",
)
FRAMES_SENT = Metric(
    "quranbot_voice_frames_sent",
    "counter",
    ("guild",),
    "20 ms Opus frames handed to discord.py to send (50 a second while reciting; none while paused).",
)
FRAME_LATENESS = Metric(
    "quranbot_voice_frame_lateness_seconds",
    "histogram",
    ("guild",),
    "How much later than 20 ms after the previous frame each frame went out (0 when on time).",
)
RECOVERIES = Metric(
    "quranbot_voice_recoveries",
    "counter",
    ("guild", "reason"),
    "Times the watchdog rejoined voice, by what was wrong: disconnected, dropped, moved, stalled.",
)
LISTENERS = Metric(
    "quranbot_listeners",
    "gauge",
    ("guild",),
    "Members listening now: in the recitation channel, not deafened, not opted out.",
)
LISTENING_SECONDS = Metric(
    "quranbot_listening_seconds",
    "counter",
    ("guild",),
    "Seconds of listening counted, summed over members, since the bot started.",
)
COMMANDS = Metric(
    "quranbot_commands",
    "counter",
    ("source", "command", "result"),
    "Commands and controls from the audit trail: source discord (slash), panel (buttons, menus), "
    "terminal (control socket); result ok, refused or error.",
)
QUIZ_ANSWERS = Metric(
    "quranbot_quiz_answers", "counter", ("result",), "Quiz answers scored at the reveal: correct or wrong."
)
ALERT_MESSAGES = Metric(
    "quranbot_alert_messages_sent",
    "counter",
    (),
    "Alert messages Discord accepted (one message carries up to 10 alerts and a count of the rest).",
)
ALERTS_DROPPED = Metric(
    "quranbot_alerts_dropped",
    "counter",
    (),
    "Alerts that never reached Discord: no destination, disabled (401/403/404), or retries given up.",
)
ALERTS_SUPPRESSED = Metric(
    "quranbot_alerts_suppressed",
    "counter",
    (),
    "Alerts turned away by the full queue (200): only counted, as 'and N more', in the next message.",
)
LAST_BACKUP = Metric(
    "quranbot_last_backup_timestamp_seconds",
    "gauge",
    (),
    "Unix time of the newest good backup (absent until there is one).",
)
FLUSH_DURATION = Metric(
    "quranbot_store_flush_duration_seconds",
    "histogram",
    ("kind",),
    "Time to write the state files: kind position (every 2 s) or statistics (every 30 s, larger).",
)
FLUSH_FAILURES = Metric(
    "quranbot_store_flush_failures", "counter", (), "State writes the disk refused (changes kept in memory)."
)
CONTROL_CLIENTS = Metric(
    "quranbot_control_clients", "gauge", (), "Terminal clients (CLI, TUI) connected to the control socket."
)

ALL = (
    BUILD,
    GATEWAY_UP,
    GATEWAY_LATENCY,
    GUILDS,
    VOICE_CONNECTED,
    FRAMES_SENT,
    FRAME_LATENESS,
    RECOVERIES,
    LISTENERS,
    LISTENING_SECONDS,
    COMMANDS,
    QUIZ_ANSWERS,
    ALERT_MESSAGES,
    ALERTS_DROPPED,
    ALERTS_SUPPRESSED,
    LAST_BACKUP,
    FLUSH_DURATION,
    FLUSH_FAILURES,
    CONTROL_CLIENTS,
)
#: Buckets (seconds) of a store flush: a position write takes milliseconds, 10,000 members' statistics
#: a few hundred (docs/PERFORMANCE.md).
FLUSH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
QUIZ_RESULTS = ("correct", "wrong")
FLUSH_KINDS = ("position", "statistics")
#: The audit trail's sources that are commands (the bot's own actions are counted elsewhere).
COMMAND_SOURCES = ("discord", "panel", "terminal")
