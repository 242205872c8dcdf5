"""What the control socket reports: a guild's playback and the process's vital signs, as plain JSON.

Field names are the protocol's (docs/PROTOCOL.md); add fields freely, never rename or remove one
without bumping PROTOCOL_VERSION.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import discord

from quranbot.backup.scheduler import BackupScheduler
from quranbot.bot.guild_player import GuildPlayer
from quranbot.bot.quiz_host import QuizHost
from quranbot.listening.figures import guild_figures
from quranbot.quran.metadata import load_metadata
from quranbot.store.records import ListeningStats

_PAGE = os.sysconf("SC_PAGE_SIZE")


def connection_state(guild_player: GuildPlayer) -> str:
    """`connected`, or `reconnecting` while the watchdog brings the voice connection back."""
    return "connected" if guild_player.in_channel() else "reconnecting"


def guild_status(guild_player: GuildPlayer) -> dict[str, Any]:
    now = guild_player.now_playing()
    surah = load_metadata().surah(now.surah)
    guild = guild_player.guild
    channel = guild.get_channel(guild_player.channel_id) if guild else None
    connection = connection_state(guild_player)
    voice = guild_player.voice_client
    latency = voice.latency if voice is not None and connection == "connected" else float("inf")
    action = guild_player.last_action
    return {
        "guild_id": str(guild_player.guild_id),
        "guild_name": guild.name if guild else None,
        "channel_id": str(guild_player.channel_id),
        "channel_name": channel.name if channel else None,
        "state": "reconnecting" if connection != "connected" else now.state.value,
        "reciter": now.reciter,
        "reciter_name": now.reciter_name,
        "surah": now.surah,
        "surah_name": surah.name,
        "surah_english": surah.english_name,
        "surah_arabic": surah.arabic_name,
        "ayah": now.ayah,
        "ayah_count": surah.ayah_count,
        "position": round(now.elapsed_seconds, 2),
        "duration": round(now.total_seconds, 2),
        "loop": now.loop,
        "shuffle": now.shuffle,
        "listeners": listeners(guild_player),
        "connection": {
            "state": connection,
            "latency_ms": None if latency == float("inf") else round(latency * 1000, 1),
            "recoveries": guild_player.recoveries,
        },
        "last_action": None if action is None else {"what": str(action.what), "who": action.who},
        "sent_at": round(time.time(), 3),
    }


def listeners(guild_player: GuildPlayer) -> list[dict[str, str]]:
    guild = guild_player.guild
    found = []
    for user_id in guild_player.listeners():
        member = guild.get_member(user_id) if guild else None
        found.append({"id": str(user_id), "name": member.display_name if member else str(user_id)})
    return found


@dataclass
class ProcessMeter:
    """CPU and packet rates between two samples (the stats ticker takes one a second)."""

    started: float = field(default_factory=time.monotonic)
    _last_at: float = field(default_factory=time.monotonic)
    _last_cpu: float = field(default_factory=lambda: _cpu_seconds())
    _last_packets: int = 0
    cpu_percent: float = 0.0
    packets_per_second: float = 0.0

    def sample(self, packets: int) -> None:
        now, cpu = time.monotonic(), _cpu_seconds()
        elapsed = now - self._last_at
        if elapsed > 0:
            self.cpu_percent = (cpu - self._last_cpu) / elapsed * 100
            self.packets_per_second = max(0, packets - self._last_packets) / elapsed
        self._last_at, self._last_cpu, self._last_packets = now, cpu, packets


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except OSError:
        return 0


def process_stats(
    client: discord.Client,
    players: list[GuildPlayer],
    meter: ProcessMeter,
    backups: BackupScheduler | None,
) -> dict[str, Any]:
    last = backups.last_backup if backups else None
    next_run = backups.next_run_time if backups else None
    latency = client.latency
    return {
        "uptime": round(time.monotonic() - meter.started, 1),
        "pid": os.getpid(),
        "cpu_percent": round(meter.cpu_percent, 2),
        "cpu_seconds": round(_cpu_seconds(), 2),
        "rss_bytes": _rss_bytes(),
        "logged_in": client.user is not None and not client.is_closed(),
        "gateway_latency_ms": None
        if latency != latency or latency == float("inf")
        else round(latency * 1000, 1),
        "guilds": len(players),
        "voice_connected": sum(1 for gp in players if connection_state(gp) == "connected"),
        "packets_sent": sum(gp.player.frames_sent for gp in players),
        "packets_per_second": round(meter.packets_per_second, 1),
        "recoveries": sum(gp.recoveries for gp in players),
        "last_backup": None
        if last is None
        else {
            "name": last.name,
            "created": last.created.astimezone(UTC).isoformat(timespec="seconds"),
            "age": round((datetime.now(UTC) - last.created).total_seconds()),
        },
        "next_backup": None if next_run is None else next_run.astimezone(UTC).isoformat(timespec="seconds"),
    }


def quiz_figures(client: discord.Client, quiz: QuizHost, guild_id: int) -> dict[str, Any]:
    """One guild's quiz today (in its time zone): questions revealed, answers, open now, top members."""
    activity = quiz.activity(guild_id)
    guild = client.get_guild(guild_id)

    def name(user_id: int) -> str:
        member = guild.get_member(user_id) if guild else None
        return member.display_name if member else quiz.names.get(user_id, str(user_id))

    return {
        "guild_id": str(guild_id),
        "guild_name": guild.name if guild else None,
        "day": activity.day,
        "questions_today": activity.questions,
        "answers_today": activity.answers,
        "open": sum(1 for s in quiz.sessions.values() if s.record.guild_id == guild_id and not s.closed),
        "top_today": [
            {"id": str(user), "name": name(user), "points": points}
            for user, points in quiz.top_today(guild_id)
        ],
    }


#: Members in the stats topic's "top this week".
LISTENING_TOP = 3


def listening_figures(
    client: discord.Client, guild_id: int, records: list[ListeningStats], today: date
) -> dict[str, Any]:
    """One guild's listening today (its local date) and this week's best, for the stats topic: the same
    figures as `quranbot stats`, named where the bot knows the member."""
    figures = guild_figures(records, today, LISTENING_TOP)
    guild = client.get_guild(guild_id)

    def name(user_id: str) -> str:
        member = guild.get_member(int(user_id)) if guild else None
        return member.display_name if member else user_id

    return {
        "guild_id": str(guild_id),
        "guild_name": guild.name if guild else None,
        "day": today.isoformat(),
        "hours_today": figures["hours_today"],
        "listeners_today": figures["listeners_today"],
        "top_week": [{**row, "name": name(row["user_id"])} for row in figures["leaderboard"]["week"]],
    }
