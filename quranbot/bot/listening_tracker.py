"""Who is listening in each guild, second by second, and what it adds to their records.

A member *present* is a human in the guild's recitation channel, not deafened (unless config.toml counts
the deafened) and not opted out (`/stats privacy off`); a stay while present is a session. A present
member's time *counts* while the bot is in that channel and reciting (not paused), and is attributed to
the reciter and surah playing. Time is accrued on every voice change, every player event and a periodic
tick, in monotonic seconds laid onto the wall clock at the moment of accrual (so an NTP step moves no
listening time between days it was not in).

Khatm progress: the members present at a surah's first frame and present at every frame since are
credited with it when its last frame plays (quranbot/listening/khatm.py holds the rules).
"""

from __future__ import annotations

import datetime
import logging
import time
from zoneinfo import ZoneInfo

import discord

from quranbot.audio.player import PlayerEvent, PlayerState
from quranbot.bot.guild_player import GuildPlayer
from quranbot.listening import audience as audiences
from quranbot.listening.accrual import accrue, close_session, open_session
from quranbot.listening.achievements import Achievement, earn
from quranbot.listening.khatm import credit_surah
from quranbot.store.state import StateStore

log = logging.getLogger(__name__)

Key = tuple[int, int]  # (guild id, user id)
#: (guild id, user id, achievements just earned), for the cog to announce.
Earned = list[tuple[int, int, list[Achievement]]]


class ListeningTracker:
    def __init__(
        self,
        store: StateStore,
        timezone: ZoneInfo,
        *,
        count_deafened: bool = False,
    ) -> None:
        self.store = store
        self.timezone = timezone
        self.count_deafened = count_deafened
        #: Members whose time counts now, and when it was last accrued (time.monotonic()).
        self._counting: dict[Key, float] = {}
        #: Members present now, and since when (time.monotonic()): sessions, and the listener role's delay.
        self.present_since: dict[Key, float] = {}
        #: Per guild: the (reciter, surah) the time since the last accrual belongs to.
        self._playing: dict[int, tuple[str | None, int]] = {}
        #: Per guild: the seconds of listening counted since the bot started (all members), for /metrics.
        self.counted_seconds: dict[int, float] = {}

    def today(self) -> datetime.date:
        return datetime.datetime.now(self.timezone).date()

    # -- who ----------------------------------------------------------------------------------------------
    def present_in(self, guild_player: GuildPlayer, opted_out: set[int]) -> set[int]:
        """The guild's listeners (GuildPlayer.listeners: humans in its channel) who can hear and agreed."""
        guild = guild_player.guild
        channel = guild.get_channel(guild_player.channel_id) if guild else None
        if not isinstance(channel, discord.VoiceChannel):
            return set()
        present = set()
        for user_id in guild_player.listeners():
            state = channel.voice_states.get(user_id)
            deafened = state is not None and (state.self_deaf or state.deaf)
            if user_id not in opted_out and (self.count_deafened or not deafened):
                present.add(user_id)
        return present

    def listening_now(self, guild_id: int) -> list[int]:
        return sorted(user for guild, user in self.present_since if guild == guild_id)

    # -- accrual ------------------------------------------------------------------------------------------
    def refresh(self, guild_player: GuildPlayer) -> Earned:
        """Bring one guild's records up to now: accrue, open and close sessions, follow the audience.
        Returns the achievements this earned."""
        guild_id = guild_player.guild_id
        now, wall = time.monotonic(), time.time()
        opted_out = self.store.listening_opt_outs(guild_id)
        present = self.present_in(guild_player, opted_out)
        playing = guild_player.in_channel() and guild_player.player.state is PlayerState.PLAYING
        counting = present if playing else set()
        reciter, surah = self._playing.get(guild_id, (None, guild_player.now_playing().surah))
        achievements: Earned = []
        for key in [k for k in self._counting if k[0] == guild_id]:
            last = self._counting.pop(key)
            if key[1] in opted_out:
                continue
            stats = self.store.buffered_listening(*key)
            accrue(stats, wall - (now - last), wall, tz=self.timezone, reciter=reciter, surah=surah)
            self.counted_seconds[guild_id] = self.counted_seconds.get(guild_id, 0.0) + max(0.0, now - last)
            earned = earn(stats, self.today())
            if earned:
                achievements.append((guild_id, key[1], earned))
        for user_id in counting:
            self._counting[(guild_id, user_id)] = now
        for key in [k for k in self.present_since if k[0] == guild_id and k[1] not in present]:
            del self.present_since[key]
            if key[1] not in opted_out:
                close_session(self.store.buffered_listening(*key))
        for user_id in present:
            if (guild_id, user_id) not in self.present_since:
                self.present_since[(guild_id, user_id)] = now
                open_session(self.store.buffered_listening(guild_id, user_id), wall)
        now_playing = guild_player.now_playing()
        self._playing[guild_id] = (now_playing.reciter, now_playing.surah)
        audience = self.store.surah_audience(guild_id)
        kept = [m for m in audience.members if m in present]
        if kept != audience.members:
            audience.members = kept
            self.store.set_surah_audience(audience)
        return achievements

    def finish(self) -> None:
        """At shutdown: the last seconds accrued, every session closed (a restart opens new ones)."""
        wall, now = time.time(), time.monotonic()
        for key, last in list(self._counting.items()):
            reciter, surah = self._playing.get(key[0], (None, 1))
            accrue(
                self.store.buffered_listening(*key),
                wall - (now - last),
                wall,
                tz=self.timezone,
                reciter=reciter,
                surah=surah,
            )
        for key in self.present_since:
            close_session(self.store.buffered_listening(*key))
        self._counting.clear()
        self.present_since.clear()

    def forget(self, guild_id: int, user_id: int) -> None:
        """Stop tracking a member now (they opted out): nothing more is written about them."""
        self._counting.pop((guild_id, user_id), None)
        self.present_since.pop((guild_id, user_id), None)

    # -- khatm --------------------------------------------------------------------------------------------
    def player_event(self, guild_player: GuildPlayer, event: PlayerEvent) -> Earned:
        """A player event: first accrue what was heard before it, then follow the surah's audience."""
        achievements = self.refresh(guild_player)
        guild_id = guild_player.guild_id
        present = set(self.listening_now(guild_id))
        now = event.now
        if now.reciter is None:
            return achievements
        audience = self.store.surah_audience(guild_id)
        if event.kind == "surah_finished":
            credited = audiences.finished(audience, now.surah, now.reciter, present)
            for user_id in credited:
                stats = self.store.buffered_listening(guild_id, user_id)
                if credit_surah(stats, now.surah):
                    log.info("Member %s completed a khatm in guild %s", user_id, guild_id)
                earned = earn(stats, self.today())
                if earned:
                    achievements.append((guild_id, user_id, earned))
        elif event.kind in ("started", "track_changed"):
            if now.position_frames == 0:
                audiences.begin(audience, now.surah, now.reciter, present)
            elif event.kind == "started":
                audiences.resumed(audience, now.surah, now.reciter, present)
            elif event.detail == "jump":
                audiences.interrupt(audience)
            else:
                return achievements  # the next ayah file of the same surah: the audience goes on
        else:
            return achievements
        self.store.set_surah_audience(audience)
        return achievements
