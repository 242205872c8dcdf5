"""One guild's recitation on Discord: the audio player, its voice connection, its saved state, its health.

The `Player` (audio/player.py) decides what plays; this class adapts it to discord.py. Its stream on the
process's one pacer (voice_stream.py) sends the player's Opus packets to the voice client as they are
(no re-encoding, no thread of its own), it saves the position through the
store as the player reports progress, and keeps the connection alive: a watchdog rejoins the configured
channel after a kick, a move, a dropped voice connection or a stall, with backoff and jitter, and the
player resumes exactly where it was.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, fields

import discord

from quranbot.alerts.system_event import system_event
from quranbot.audio.join_builder import JoinBuilder
from quranbot.audio.library import Library
from quranbot.audio.pacer import Pacer
from quranbot.audio.player import NowPlaying, Player, PlayerEvent, PlayerSettings, PlayerState
from quranbot.bot.audit_trail import report_bot_action
from quranbot.bot.tick_handoff import TickHandoff
from quranbot.bot.voice_joins import VoiceJoins
from quranbot.bot.voice_stream import VoiceStream
from quranbot.i18n.catalog import Phrase
from quranbot.metrics.voice import VoiceStats
from quranbot.store.records import GuildPlayback
from quranbot.store.state import StateStore

log = logging.getLogger(__name__)

#: Frames not advancing this long while playing counts as a stall.
STALL_SECONDS = 10.0
WATCHDOG_INTERVAL = 1.0
#: One attempt to join voice; the watchdog tries again (with backoff) after a failed one. Short, because
#: a handshake whose first UDP discovery packet was lost waits all of it (the soak's UDP silence).
CONNECT_TIMEOUT = 5.0
MAX_BACKOFF = 30.0


def settings_from_store(record: GuildPlayback) -> PlayerSettings:
    """The store's record as the player's settings: the same fields, less the guild id (the audio
    engine does not import the store, so the two types are kept in step here, field by field)."""
    values = record.to_document()
    del values["guild_id"]
    return PlayerSettings(**{**values, "shuffle_order": tuple(record.shuffle_order)})


def record_from_settings(guild_id: int, settings: PlayerSettings) -> GuildPlayback:
    # Field by field, not asdict(): that deep-copies the 114-surah shuffle order element by element, and
    # the flusher calls this for every guild every 2 s on the event loop.
    values = {f.name: getattr(settings, f.name) for f in fields(settings)}
    return GuildPlayback(guild_id=guild_id, **{**values, "shuffle_order": list(settings.shuffle_order)})


@dataclass
class LastAction:
    #: A member's command is a Phrase (the panel says it in the server's language); the terminal's is
    #: English text. `str()` of either is the English the terminal and the audit trail show.
    what: str | Phrase
    who: str


class GuildPlayer:
    def __init__(
        self,
        client: discord.Client,
        guild_id: int,
        channel_id: int,
        library: Library,
        store: StateStore,
        pacer: Pacer,
        track_joins: JoinBuilder,
        handoff: TickHandoff,
        joins: VoiceJoins,
        on_change: Callable[[GuildPlayer, PlayerEvent], None] = lambda gp, event: None,
        stats: VoiceStats | None = None,
    ) -> None:
        self.client = client
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.store = store
        self._on_change = on_change
        self._loop = asyncio.get_running_loop()
        settings = settings_from_store(store.playback(guild_id))
        self.player = Player(library, settings, self._from_audio_thread, joins=track_joins)
        self.pacer = pacer
        self._handoff = handoff
        #: The bot's pace of voice joins (the gateway's command limit), shared by every guild.
        self.joins = joins
        #: The player on the process's one pacing thread (see audio/pacer.py), once a channel is joined.
        self.stream = VoiceStream(self.player, self._loop, None if stats is None else stats.clock())
        self.recoveries = 0
        #: Frames, their lateness and recoveries by reason, for /metrics (None: metrics are off).
        self.stats = stats
        self.last_action: LastAction | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._last_frames = 0
        self._last_progress = time.monotonic()
        #: Since when frames have not advanced while connected and playing. Unlike `_last_progress`, a
        #: rejoin does not reset it: a stall that rejoining cannot cure keeps counting (for systemd).
        self._stall_started = time.monotonic()
        self._backoff = 1.0
        #: When the watchdog last found all well: an outage (for the "recovered after" alert) began
        #: between then and its next look.
        self._last_healthy = time.monotonic()
        #: The current outage: when the watchdog first saw it (monotonic), why (in words, and as one of
        #: RECOVERY_REASONS), and rejoins tried.
        self._outage: tuple[float, str, str, int] | None = None
        self._stopping = False
        #: Paused because the channel emptied (pause_when_empty), not by a member.
        self.auto_paused = False

    # -- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch(), name=f"voice watchdog {self.guild_id}")

    async def stop(self) -> None:
        """Save the position and leave voice (at shutdown)."""
        self._stopping = True
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None and not watchdog.done() and watchdog is not asyncio.current_task():
            watchdog.cancel()
            await asyncio.wait({watchdog})  # a rejoin in flight ends before we leave voice
        self.save()
        self.pacer.remove(self.stream)
        self.stream.detach()
        voice = self.voice_client
        if voice is not None:
            await voice.disconnect(force=True)
        await asyncio.to_thread(self.player.close)  # its track readers stop (it waits for them briefly)

    @property
    def guild(self) -> discord.Guild | None:
        return self.client.get_guild(self.guild_id)

    @property
    def voice_client(self) -> discord.VoiceClient | None:
        guild = self.guild
        voice = guild.voice_client if guild else None
        return voice if isinstance(voice, discord.VoiceClient) else None

    def now_playing(self) -> NowPlaying:
        return self.player.now_playing()

    def listeners(self) -> list[int]:
        """Members (not bots) in the bot's voice channel."""
        guild = self.guild
        channel = guild.get_channel(self.channel_id) if guild else None
        if not isinstance(channel, discord.VoiceChannel):
            return []
        bot_id = self.client.user.id if self.client.user else None
        result = []
        for user_id in channel.voice_states:
            member = channel.guild.get_member(user_id)
            if user_id != bot_id and not (member is not None and member.bot):
                result.append(user_id)
        return result

    # -- connection and recovery ------------------------------------------------------------------------
    async def connect(self) -> bool:
        """Join (or return to) the configured channel and make sure the player is feeding it."""
        guild = self.guild
        channel = guild.get_channel(self.channel_id) if guild else None
        if not isinstance(channel, discord.VoiceChannel):
            log.error(
                "Voice channel %s is not in guild %s (or not visible to the bot)",
                self.channel_id,
                self.guild_id,
            )
            return False
        voice = self.voice_client
        try:
            wrong_channel = voice is not None and getattr(voice.channel, "id", None) != self.channel_id
            if voice is None or not voice.is_connected() or wrong_channel:
                # A fresh connection, also after a move: discord.py may still be reconnecting to where it
                # was dragged, and a move_to() on top of that races it.
                if voice is not None:
                    await self.joins.take()  # a leave is a gateway command too
                    await voice.disconnect(force=True)
                await self.joins.take()  # so the timeout below is not spent in discord.py's queue
                voice = await channel.connect(self_deaf=True, timeout=CONNECT_TIMEOUT, reconnect=True)
        except (TimeoutError, discord.ClientException, discord.HTTPException) as exc:
            reason = str(exc) or f"timed out after {CONNECT_TIMEOUT:g} s"
            log.warning("Could not join #%s in %s: %s", channel.name, channel.guild.name, reason)
            return False
        await asyncio.to_thread(self.player.prepare)  # the library's disk, not the pacer's thread
        self._feed(voice)
        return True

    def _feed(self, voice: discord.VoiceClient) -> None:
        if self.stream.voice is not voice:
            self.stream.attach(voice)
            log.info("Reciting in #%s (%s)", voice.channel.name if voice.channel else "?", self.describe())
        self.pacer.add(self.stream)
        self._last_frames = self.player.frames_sent
        self._last_progress = time.monotonic()

    def describe(self) -> str:
        now = self.now_playing()
        reciter = now.reciter_name or now.reciter or "the first imported"
        return f"surah {now.surah} at {now.elapsed_seconds:.1f} s, reciter {reciter}"

    def in_channel(self) -> bool:
        """Connected to voice, in the configured channel (not kicked, moved or reconnecting)."""
        voice = self.voice_client
        return (
            voice is not None
            and voice.is_connected()
            and voice.channel is not None
            and voice.channel.id == self.channel_id
        )

    def healthy(self) -> bool:
        """Connected to the right channel and, when it should be playing, frames are flowing."""
        now = time.monotonic()
        if not self.in_channel():
            self._stall_started = now  # down is not stalled: the clock of a stall starts when back
            return False
        if self.player.state is PlayerState.PAUSED:
            self._stall_started = now
            return True
        frames = self.player.frames_sent
        if frames != self._last_frames:
            self._last_frames, self._last_progress, self._stall_started = frames, now, now
            return True
        if self.player.state is not PlayerState.PLAYING:
            self._stall_started = now  # idle (nothing to play) is not a stall either
        return now - self._last_progress < STALL_SECONDS

    def stalled_seconds(self) -> float:
        """How long frames have not advanced although the bot is connected and should be reciting.

        0 while paused, idle or not connected: rejoining after a network fault is recovery, not a
        stall. Read-only (the watchdog's `healthy()` keeps the frame count it compares against).
        """
        voice = self.voice_client
        if self.player.state is not PlayerState.PLAYING or voice is None or not voice.is_connected():
            return 0.0
        if self.player.frames_sent != self._last_frames:
            return 0.0
        return time.monotonic() - self._stall_started

    async def _watch(self) -> None:
        while not self._stopping:
            await asyncio.sleep(WATCHDOG_INTERVAL)
            if self.healthy():
                self._backoff = 1.0
                self._last_healthy = time.monotonic()
                continue
            kind, reason = self._diagnose()
            line = ("Recovering voice in guild %s: %s (%s)", self.guild_id, reason, self.describe())
            if self._outage is None:  # the first line of an outage is also a system alert: voice lost
                system_event(log, logging.WARNING, *line)
            else:
                log.warning(*line)
            if self.voice_client is not None and kind == "stalled":
                await self.voice_client.disconnect(force=True)
            started, why, why_kind, tries = self._outage or (time.monotonic(), reason, kind, 0)
            self._outage = (started, why, why_kind, tries + 1)
            if await self.connect():
                self.recoveries += 1
                if self.stats is not None:
                    self.stats.recoveries[why_kind] += 1
                system_event(
                    log, logging.INFO, "Recovered in guild %s after %.1f s: %s",
                    self.guild_id, time.monotonic() - min(started, self._last_healthy), self.describe(),
                )  # fmt: skip
                self._backoff = 1.0
                self._outage = None
                report_bot_action(
                    self.client, "voice.recover", guild_id=self.guild_id, channel_id=self.channel_id,
                    why=why, attempts=tries + 1, seconds=round(time.monotonic() - started, 1),
                )  # fmt: skip
            else:
                if tries == 0:  # the first failed rejoin of an outage; the rest retry with backoff
                    report_bot_action(
                        self.client, "voice.recover", guild_id=self.guild_id, channel_id=self.channel_id,
                        result="error", reason="could not rejoin yet; retrying with backoff", why=why,
                    )  # fmt: skip
                delay = min(MAX_BACKOFF, self._backoff) * random.uniform(0.8, 1.2)
                self._backoff = min(MAX_BACKOFF, self._backoff * 2)
                await asyncio.sleep(delay)

    def _diagnose(self) -> tuple[str, str]:
        """What is wrong: one of RECOVERY_REASONS (quranbot/metrics/voice.py), and in words."""
        voice = self.voice_client
        if voice is None:
            return "disconnected", "not in voice (kicked, or the connection ended)"
        if not voice.is_connected():
            return "dropped", "the voice connection dropped"
        if voice.channel is None or voice.channel.id != self.channel_id:
            return "moved", "moved to another channel"
        return "stalled", f"stalled: no audio for {STALL_SECONDS:.0f} s"

    def follow_listeners(self) -> None:
        """With pause_when_empty: pause when the last listener leaves, resume when one comes back."""
        listening = bool(self.listeners())
        if not listening and self.player.state is not PlayerState.PAUSED:
            self.act("Paused: nobody is listening", "QuranBot", self.player.pause)
            self.auto_paused = True
            report_bot_action(self.client, "pause", guild_id=self.guild_id, why="nobody is listening")
        elif listening and self.auto_paused:
            self.auto_paused = False
            self.act("Resumed: someone joined", "QuranBot", self.player.resume)
            report_bot_action(self.client, "resume", guild_id=self.guild_id, why="someone joined")

    # -- commands ---------------------------------------------------------------------------------------
    def act(self, what: str | Phrase, who: str, command: Callable[[], None]) -> None:
        """Run a player command on behalf of a member; remember it for the panel; save the state."""
        command()  # the stream sees a pause or a resume at its next tick
        self.stream.wake()  # and asks the player at once if it was idle
        self.last_action = LastAction(what, who)
        self.save()
        self._on_change(self, PlayerEvent("command", self.now_playing(), str(what)))

    def save(self) -> None:
        self.store.set_playback(record_from_settings(self.guild_id, self.player.settings()))

    # -- events from the audio thread -------------------------------------------------------------------
    def _from_audio_thread(self, event: PlayerEvent) -> None:
        self._handoff.call(self._handle, event)

    def _handle(self, event: PlayerEvent) -> None:
        if event.kind != "progress":  # the position itself is saved by the flusher, exact, before each write
            self.save()
        if event.kind != "progress" or event.now.position_frames % 250 == 0:
            self._on_change(self, event)
