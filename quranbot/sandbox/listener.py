"""What a voice channel heard: packet cadence, gaps, silence and the decoded audio itself.

The sandbox's UDP endpoint hands every decrypted packet of a channel to its `ChannelListener`, which
decodes it with libopus and keeps the figures a person would notice: is audio arriving every 20 ms, did
a packet go missing, was there a silence, and what does it sound like (PCM, recordable as a WAV).

Silence is measured twice: whole 20 ms frames quieter than SILENCE_DBFS (a stream that stopped), and
2.5 ms windows across frame edges (`longest_quiet_ms`), because a gap of a few ms inside frames that
still carry some sound, as at a track boundary, never makes a whole frame silent.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
import wave
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from discord.opus import Decoder

from quranbot.audio.levels import (
    QUIET_WINDOW_SAMPLES,
    dbfs,
    dominant_frequency,
    mean_square_of,
    window_mean_squares,
)

SAMPLE_RATE = 48_000
CHANNELS = 2
FRAME_SAMPLES = 960  # 20 ms at 48 kHz
FRAME_BYTES = FRAME_SAMPLES * CHANNELS * 2
#: A frame quieter than this (dBFS) counts as silence.
SILENCE_DBFS = -55.0
#: An arrival gap longer than this is a stall the listener would hear.
STALL_MS = 100.0


@dataclass(frozen=True)
class ListenerStats:
    """A snapshot of what a channel heard; times in milliseconds."""

    packets: int
    audio_seconds: float
    lost_packets: int
    timestamp_jumps: int
    median_gap_ms: float | None
    p99_gap_ms: float | None
    max_gap_ms: float | None
    stalls: int
    silent_frames: int
    longest_silence_ms: float
    #: The longest gap: a run of 2.5 ms windows quieter than SILENCE_DBFS between two sounds (one inside
    #: frames that still carry sound shows here, not in `longest_silence_ms`).
    longest_quiet_ms: float
    level_dbfs: float
    dominant_hz: float | None
    decode_errors: int

    def summary(self) -> str:
        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value:.1f} ms"

        tone = "-" if self.dominant_hz is None else f"{self.dominant_hz:.1f} Hz"
        return (
            f"packets={self.packets} lost={self.lost_packets} median_gap={ms(self.median_gap_ms)} "
            f"p99_gap={ms(self.p99_gap_ms)} max_gap={ms(self.max_gap_ms)} stalls={self.stalls} "
            f"longest_silence={self.longest_silence_ms:.0f} ms longest_quiet={self.longest_quiet_ms:.1f} ms "
            f"dominant={tone}"
        )


class ChannelListener:
    """Decodes and measures the audio one voice channel receives."""

    def __init__(self, channel_id: int, keep_seconds: float = 300.0, gap_history: int = 30_000) -> None:
        self.channel_id = channel_id
        self.packets = 0
        self.lost_packets = 0
        self.timestamp_jumps = 0
        self.decode_errors = 0
        self.silent_frames = 0
        self.stalls = 0
        self.first_packet_at: float | None = None
        self.last_packet_at: float | None = None
        self.level_dbfs = -math.inf
        self._gaps: deque[float] = deque(maxlen=gap_history)
        self._max_gap = 0.0
        self._silence_run = 0
        self._longest_silence = 0
        self._quiet_below = mean_square_of(SILENCE_DBFS)
        self._heard_sound = False
        self._quiet_run = 0
        self._longest_quiet = 0
        self._frames: deque[bytes] = deque(maxlen=int(keep_seconds * 50))
        self._decoders: dict[int, Decoder] = {}
        self._last_seq: dict[int, int] = {}
        self._last_ts: dict[int, int] = {}
        self._recording: wave.Wave_write | None = None
        self._arrived = asyncio.Event()

    # -- input ------------------------------------------------------------------------------------------
    def receive(
        self, ssrc: int, sequence: int, timestamp: int, opus: bytes, arrived: float | None = None
    ) -> None:
        """One decrypted RTP packet from `ssrc`; `arrived` is a `time.perf_counter()` reading."""
        now = time.perf_counter() if arrived is None else arrived
        self.packets += 1
        if self.first_packet_at is None:
            self.first_packet_at = now
        if self.last_packet_at is not None:
            gap = (now - self.last_packet_at) * 1000.0
            self._gaps.append(gap)
            self._max_gap = max(self._max_gap, gap)
            if gap > STALL_MS:
                self.stalls += 1
        self.last_packet_at = now
        self._track_sequence(ssrc, sequence, timestamp)
        self._decode(ssrc, opus)
        self._arrived.set()

    def _track_sequence(self, ssrc: int, sequence: int, timestamp: int) -> None:
        previous = self._last_seq.get(ssrc)
        if previous is not None:
            step = (sequence - previous) & 0xFFFF
            if 1 < step < 0x8000:
                self.lost_packets += step - 1
            ts_step = (timestamp - self._last_ts[ssrc]) & 0xFFFFFFFF
            if ts_step != FRAME_SAMPLES:
                self.timestamp_jumps += 1
        self._last_seq[ssrc] = sequence
        self._last_ts[ssrc] = timestamp

    def _decode(self, ssrc: int, opus: bytes) -> None:
        decoder = self._decoders.get(ssrc)
        if decoder is None:
            decoder = self._decoders[ssrc] = Decoder()  # type: ignore[no-untyped-call]
        try:
            pcm = decoder.decode(opus, fec=False)
        except Exception:  # libopus rejects the packet: count it, the stream goes on
            self.decode_errors += 1
            return
        self._frames.append(pcm)
        if self._recording is not None:
            self._recording.writeframes(pcm)
        windows = window_mean_squares(pcm)
        self.level_dbfs = dbfs(sum(windows) / len(windows)) if windows else -math.inf
        self._measure_quiet(windows)
        if self.level_dbfs < SILENCE_DBFS:
            self.silent_frames += 1
            self._silence_run += 1
            self._longest_silence = max(self._longest_silence, self._silence_run)
        else:
            self._silence_run = 0

    def _measure_quiet(self, windows: list[float]) -> None:
        below = self._quiet_below
        for mean_square in windows:
            if mean_square < below:
                self._quiet_run += self._heard_sound  # the quiet before the first sound is not a gap
            else:
                self._heard_sound = True
                self._longest_quiet = max(self._longest_quiet, self._quiet_run)  # a gap, now it ended
                self._quiet_run = 0

    # -- output -----------------------------------------------------------------------------------------
    def stats(self, tone_seconds: float = 2.0) -> ListenerStats:
        gaps = sorted(self._gaps)
        return ListenerStats(
            packets=self.packets,
            audio_seconds=len(self._frames) * 0.02,
            lost_packets=self.lost_packets,
            timestamp_jumps=self.timestamp_jumps,
            median_gap_ms=statistics.median(gaps) if gaps else None,
            p99_gap_ms=gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))] if gaps else None,
            max_gap_ms=self._max_gap if gaps else None,
            stalls=self.stalls,
            silent_frames=self.silent_frames,
            longest_silence_ms=self._longest_silence * 20.0,
            longest_quiet_ms=self._longest_quiet * QUIET_WINDOW_SAMPLES * 1000 / SAMPLE_RATE,
            level_dbfs=self.level_dbfs,
            dominant_hz=dominant_frequency(self.pcm(last_seconds=tone_seconds)),
            decode_errors=self.decode_errors,
        )

    def arrival_gaps(self) -> list[float]:
        """Milliseconds between consecutive packets, oldest first: gap i precedes packet i + 1."""
        return list(self._gaps)

    def pcm(self, last_seconds: float | None = None) -> bytes:
        """Decoded audio kept so far: 48 kHz, stereo, signed 16-bit little-endian."""
        frames = list(self._frames)
        if last_seconds is not None:
            frames = frames[-max(1, int(last_seconds * 50)) :]
        return b"".join(frames)

    def write_wav(self, path: Path, last_seconds: float | None = None) -> Path:
        with wave.open(str(path), "wb") as out:
            _configure(out)
            out.writeframes(self.pcm(last_seconds))
        return path

    def start_recording(self, path: Path) -> None:
        """Stream everything decoded from now on into a WAV file (for long runs)."""
        self.stop_recording()
        recording = wave.open(str(path), "wb")  # noqa: SIM115 - stays open until stop_recording()
        _configure(recording)
        self._recording = recording

    def stop_recording(self) -> None:
        if self._recording is not None:
            self._recording.close()
            self._recording = None

    async def wait_for_packets(self, count: int, timeout: float = 10.0) -> None:
        """Wait until at least `count` packets arrived in total."""
        async with asyncio.timeout(timeout):
            while self.packets < count:
                self._arrived.clear()
                await self._arrived.wait()


def _configure(out: wave.Wave_write) -> None:
    out.setnchannels(CHANNELS)
    out.setsampwidth(2)
    out.setframerate(SAMPLE_RATE)
