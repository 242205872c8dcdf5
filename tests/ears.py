"""Hearing which sample surah plays, from the audio itself (numpy FFT, independent of the product's code).

Sample surah N is a steady 200 + 10·N Hz tone, so each short window of what a voice channel heard
names one surah.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import numpy as np

from quranbot.audio.sample import surah_from_frequency
from quranbot.sandbox.listener import ChannelListener

RATE = 48_000
BYTES_PER_SECOND = RATE * 4  # 16-bit stereo


def window_surah(pcm: bytes) -> int | None:
    left = np.frombuffer(pcm, dtype="<i2")[::2].astype(np.float64)
    if len(left) < RATE // 20 or np.sqrt(np.mean(left**2)) < 100:
        return None  # too short, or silence
    spectrum = np.abs(np.fft.rfft(left * np.hanning(len(left)), n=RATE))  # 1 Hz bins
    return surah_from_frequency(float(np.argmax(spectrum)))


def surahs_in(pcm: bytes, window_seconds: float = 0.1) -> list[int]:
    """The surahs heard, in order, each listed once per stretch.

    A surah counts once two windows in a row name it: a window straddling a boundary holds two tones,
    and its blurred peak can land near a third.
    """
    size = int(window_seconds * BYTES_PER_SECOND) // 4 * 4
    names = [window_surah(pcm[start : start + size]) for start in range(0, len(pcm) - size + 1, size)]
    heard: list[int] = []
    for first, second in itertools.pairwise(names):
        if first is not None and first == second and (not heard or heard[-1] != first):
            heard.append(first)
    return heard


def hearing_now(listener: ChannelListener) -> int | None:
    return window_surah(listener.pcm(last_seconds=0.2))


async def wait_to_hear(listener: ChannelListener, surah: int, timeout: float = 10.0) -> float:
    """Wait until the channel hears `surah`; returns how long that took."""
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        while hearing_now(listener) != surah:
            await asyncio.sleep(0.05)
    return time.monotonic() - started
