"""What a member's listening looks like in Discord: the `/stats` embed and the achievement notice."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import discord

from quranbot.audio.player import SURAH_COUNT
from quranbot.listening.achievements import BY_ID, Achievement
from quranbot.listening.figures import format_duration
from quranbot.listening.khatm import progress_bar
from quranbot.quran.metadata import load_metadata


def _surah_name(number: int) -> str:
    surah = load_metadata().surah(number)
    return f"{surah.number}. {surah.name}"


def stats_embed(
    name: str,
    figures: dict[str, Any],
    rank: tuple[int, int] | None,
    reciter_name: Callable[[str], str],
    timezone: str,
) -> discord.Embed:
    """`figures` is quranbot.listening.figures.member_figures(); `rank` is (place, members) all time."""
    embed = discord.Embed(title=f"Listening · {name}", colour=discord.Colour.teal())
    if not figures["seconds"]:
        embed.description = "No listening yet: join the Quran voice channel and it is counted here."
        return embed
    embed.add_field(name="Listened", value=format_duration(figures["seconds"]))
    embed.add_field(name="Rank", value=f"#{rank[0]} of {rank[1]}" if rank else "—")
    embed.add_field(
        name="Sessions",
        value=f"{figures['sessions']} · {format_duration(figures['average_session_seconds'])} on average",
    )
    embed.add_field(name="Today", value=format_duration(figures["today_seconds"]))
    embed.add_field(name="This week", value=format_duration(figures["week_seconds"]))
    embed.add_field(name="Day streak", value=f"{figures['day_streak']} day(s)")
    favourites = [
        f"{_surah_name(f['surah'])} — {format_duration(f['seconds'])}" for f in figures["favourite_surahs"]
    ]
    if favourites:
        embed.add_field(name="Favourite surahs", value="\n".join(favourites))
    reciters = [
        f"{reciter_name(f['reciter'])} — {format_duration(f['seconds'])}"
        for f in figures["favourite_reciters"]
    ]
    if reciters:
        embed.add_field(name="Favourite reciters", value="\n".join(reciters))
    peak = figures["peak_hour"]
    if peak is not None:
        embed.add_field(name="Listens most", value=f"{peak:02d}:00–{(peak + 1) % 24:02d}:00 ({timezone})")
    khatms = figures["khatms"]
    embed.add_field(
        name="Khatm progress",
        value=(
            f"{figures['heard_count']}/{SURAH_COUNT} surahs heard in full"
            + (f" · {khatms} khatm{'s' if khatms != 1 else ''} complete" if khatms else "")
            + f"\n```\n{progress_bar(figures['heard'])}\n```"
        ),
        inline=False,
    )
    earned = [BY_ID[a] for a in figures["achievements"] if a in BY_ID]
    if earned:
        embed.add_field(name="Achievements", value=achievement_lines(earned), inline=False)
    embed.set_footer(text="/stats privacy:off stops tracking and deletes these figures")
    return embed


def achievement_lines(earned: Sequence[Achievement]) -> str:
    return "\n".join(f"🏅 **{a.name}** — {a.description}" for a in earned)


def achievement_notice(user_id: int, earned: Sequence[Achievement]) -> str:
    names = ", ".join(f"**{a.name}** ({a.description})" for a in earned)
    return f"🏅 <@{user_id}> earned {names} by listening to the recitation."
