"""One guild's player as a stream of the process's pacer (audio/pacer.py), sent through discord.py.

This replaces `VoiceClient.play()`, whose `AudioPlayer` is a thread per voice client. It uses only
discord.py's public voice client: `is_connected()`, `send_audio_packet(data, encode=False)` (the Opus
packets pass through untouched; sequence, timestamp, encryption and DAVE stay discord.py's) and
`ws.speak()`, the speaking flag clients use to show who is talking. tests/test_voice_stream.py fails
if a discord.py upgrade changes any of them.

The speaking flag is sent on every voice websocket the stream sees, before its first frame: a
reconnect (a server move, 4006, 4015) opens a new websocket whose clients have not been told, and
discord.py's own player only repeats it when it happens to notice the disconnection between frames.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging

import discord

from quranbot.audio.player import SILENCE_FRAME, Player, PlayerState
from quranbot.metrics.voice import FrameClock

log = logging.getLogger(__name__)

#: Frames of silence sent when the recitation stops (paused, nothing to play), as discord.py does, so
#: that decoders fade out rather than repeat the last frame.
SILENCE_TAIL = 5
#: With nothing to play (no reciter, every file unreadable) the player is asked again this often, not
#: every tick: each ask may try to open a file, and a missing library must not cost 50 opens a second.
IDLE_PROBE_TICKS = 50


class VoiceStream:
    """Sends `player`'s frames to the voice client attached, one per pacer tick; none while it is
    detached, disconnected or reconnecting (the player's position does not move meanwhile), paused, or
    idle (the player had nothing to play: it is asked again every IDLE_PROBE_TICKS, or at `wake()`)."""

    def __init__(
        self, player: Player, loop: asyncio.AbstractEventLoop, clock: FrameClock | None = None
    ) -> None:
        self.player = player
        self._loop = loop
        #: With metrics on, stamps each frame sent (quranbot/metrics/voice.py: frames and lateness).
        self.clock = clock
        self._voice: discord.VoiceClient | None = None
        #: The voice websocket last told "speaking" (None: none, or told it stopped).
        self._speaking_on: object | None = None
        #: Ticks until the player is asked again while idle (0: not idle).
        self._idle_wait = 0

    @property
    def voice(self) -> discord.VoiceClient | None:
        return self._voice

    def attach(self, voice: discord.VoiceClient) -> None:
        """Send to `voice` from the next tick (a new connection after a rejoin)."""
        self._voice = voice
        self._speaking_on = None

    def detach(self) -> None:
        self._voice = None

    def wake(self) -> None:
        """Ask the player at the next tick (a command may have given it something to play)."""
        self._idle_wait = min(self._idle_wait, 1)

    # -- on the pacer's thread --------------------------------------------------------------------------
    def tick(self) -> None:
        voice = self._voice
        if voice is None or not voice.is_connected():
            self._speaking_on = None  # whatever comes next is told again
            return
        if self.player.state is PlayerState.PAUSED:
            if self._speaking_on is not None:
                self._stop_speaking(voice)
            return
        if self._idle_wait:
            self._idle_wait -= 1
            if self._idle_wait:
                return
        frame = self.player.read_frame(wait=False)
        if not frame:  # nothing can play now
            self._idle_wait = IDLE_PROBE_TICKS
            if self._speaking_on is not None:
                self._stop_speaking(voice)
            return
        if frame == SILENCE_FRAME and self._speaking_on is None:
            return  # not playing yet (a reader still opening): nothing to say until audio comes
        ws = voice.ws
        if ws is not self._speaking_on:  # (again) after a pause, idle time or a reconnect
            self._speaking_on = ws
            self._speak(ws, discord.SpeakingState.voice)
            if self.clock is not None:
                self.clock.rebase()  # the time without audio is not a late frame
        voice.send_audio_packet(frame, encode=False)
        if self.clock is not None:
            self.clock.tick()

    def _stop_speaking(self, voice: discord.VoiceClient) -> None:
        for _ in range(SILENCE_TAIL):
            voice.send_audio_packet(SILENCE_FRAME, encode=False)
        self._speak(voice.ws, discord.SpeakingState.none)
        self._speaking_on = None

    def _speak(self, ws: discord.gateway.DiscordVoiceWebSocket, state: discord.SpeakingState) -> None:
        """Tell the voice websocket (on the event loop; this is the pacer's thread)."""
        with contextlib.suppress(RuntimeError):  # the loop has closed: the bot is stopping
            future = asyncio.run_coroutine_threadsafe(ws.speak(state), self._loop)
            future.add_done_callback(_log_failure)


def _log_failure(future: concurrent.futures.Future[None]) -> None:
    exc = None if future.cancelled() else future.exception()
    if exc is not None:
        log.debug("Could not send the speaking flag (the connection is closing): %r", exc)
