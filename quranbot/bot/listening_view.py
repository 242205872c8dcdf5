"""What a member's listening looks like in Discord: the `/stats` embed and the achievement notice."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import discord

from quranbot.audio.player import SURAH_COUNT
from quranbot.i18n.catalog import Messages
from quranbot.i18n.surah_names import surah_name
from quranbot.listening.achievements import BY_ID, Achievement
from quranbot.listening.figures import duration_parts
from quranbot.listening.khatm import progress_bar


def duration(seconds: float, text: Messages) -> str:
    """Listening time in the reader's language, as quranbot.listening.figures.format_duration words it
    in English: "45 min", "3 h 05 min", "123 h"."""
    hours, minutes = duration_parts(seconds)
    if not hours:
        return text.t("{minutes} min", minutes=minutes)
    if hours < 100:
        return text.t("{hours} h {minutes} min", hours=hours, minutes=f"{minutes:02d}")
    return text.t("{hours} h", hours=hours)


def _surah_name(number: int, text: Messages) -> str:
    return f"{number}. {surah_name(number, text.language)}"


def stats_embed(
    name: str,
    figures: dict[str, Any],
    rank: tuple[int, int] | None,
    reciter_name: Callable[[str], str],
    timezone: str,
    text: Messages,
) -> discord.Embed:
    """`figures` is quranbot.listening.figures.member_figures(); `rank` is (place, members) all time."""
    embed = discord.Embed(title=text.t("Listening · {name}", name=name), colour=discord.Colour.teal())
    if not figures["seconds"]:
        embed.description = text.t("No listening yet: join the Quran voice channel and it is counted here.")
        return embed
    embed.add_field(name=text.t("Listened"), value=duration(figures["seconds"], text))
    embed.add_field(
        name=text.t("Rank"),
        value=text.t("#{rank} of {members}", rank=rank[0], members=rank[1]) if rank else "—",
    )
    embed.add_field(
        name=text.t("Sessions"),
        value=text.t(
            "{sessions} · {duration} on average",
            sessions=figures["sessions"],
            duration=duration(figures["average_session_seconds"], text),
        ),
    )
    embed.add_field(name=text.t("Today"), value=duration(figures["today_seconds"], text))
    embed.add_field(name=text.t("This week"), value=duration(figures["week_seconds"], text))
    embed.add_field(name=text.t("Day streak"), value=text.t("{days} day(s)", days=figures["day_streak"]))
    favourites = [
        f"{_surah_name(f['surah'], text)} — {duration(f['seconds'], text)}"
        for f in figures["favourite_surahs"]
    ]
    if favourites:
        embed.add_field(name=text.t("Favourite surahs"), value="\n".join(favourites))
    reciters = [
        f"{reciter_name(f['reciter'])} — {duration(f['seconds'], text)}"
        for f in figures["favourite_reciters"]
    ]
    if reciters:
        embed.add_field(name=text.t("Favourite reciters"), value="\n".join(reciters))
    peak = figures["peak_hour"]
    if peak is not None:
        hours = text.ltr(f"{peak:02d}:00–{(peak + 1) % 24:02d}:00")
        embed.add_field(name=text.t("Listens most"), value=f"{hours} ({timezone})")
    khatms = figures["khatms"]
    heard = text.t("{count} surahs heard in full", count=text.ltr(f"{figures['heard_count']}/{SURAH_COUNT}"))
    if khatms == 1:
        heard += " · " + text.t("1 khatm complete")
    elif khatms:
        heard += " · " + text.t("{count} khatms complete", count=khatms)
    embed.add_field(
        name=text.t("Khatm progress"),
        value=f"{heard}\n```\n{progress_bar(figures['heard'])}\n```",
        inline=False,
    )
    earned = [BY_ID[a] for a in figures["achievements"] if a in BY_ID]
    if earned:
        embed.add_field(name=text.t("Achievements"), value=achievement_lines(earned, text), inline=False)
    embed.set_footer(text=text.t("/stats privacy:off stops tracking and deletes these figures"))
    return embed


def achievement_lines(earned: Sequence[Achievement], text: Messages) -> str:
    return "\n".join(f"🏅 **{text.t(a.name)}** — {a.description.said_in(text)}" for a in earned)


def achievement_notice(user_id: int, earned: Sequence[Achievement], text: Messages) -> str:
    names = ", ".join(
        text.t("**{name}** ({description})", name=text.t(a.name), description=a.description.said_in(text))
        for a in earned
    )
    return text.t(
        "🏅 {member} earned {names} by listening to the recitation.", member=f"<@{user_id}>", names=names
    )
