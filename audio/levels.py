"""Levels and pitch of 48 kHz stereo 16-bit PCM: how loud, and which steady tone.

Pure Python on purpose (no numpy at run time): used per 20 ms frame by the sandbox's listener and on
short windows by the demo to name the sample surah it hears.
"""

from __future__ import annotations

import array
import itertools
import math
import statistics

SAMPLE_RATE = 48_000
CHANNELS = 2


def frame_dbfs(pcm: bytes) -> float:
    """RMS level of a PCM frame in dBFS (-inf for digital silence)."""
    samples = array.array("h", pcm)
    if not samples:
        return -math.inf
    mean_square = sum(s * s for s in samples[::4]) / len(samples[::4])
    return -math.inf if mean_square == 0 else 10.0 * math.log10(mean_square / (32768.0**2))


def dominant_frequency(pcm: bytes, min_dbfs: float = -45.0) -> float | None:
    """The pitch of a tonal signal, from its zero crossings (left channel); None for silence or noise.

    Exact enough for the test tones the sandbox is used with (well under 1 Hz on a clean sine); tests
    that need a spectrum use an FFT on `pcm()` instead.
    """
    left = array.array("h", pcm)[::CHANNELS]
    if len(left) < SAMPLE_RATE // 10 or frame_dbfs(array.array("h", left).tobytes()) < min_dbfs:
        return None
    crossings: list[float] = []
    for index in range(1, len(left)):
        before, after = left[index - 1], left[index]
        if before < 0 <= after:
            crossings.append(index - 1 + before / (before - after))
    if len(crossings) < 3:
        return None
    periods = [b - a for a, b in itertools.pairwise(crossings)]
    typical = statistics.median(periods)
    steady = [p for p in periods if abs(p - typical) < typical * 0.25]
    if len(steady) < len(periods) * 0.8:
        return None  # not a steady tone
    return SAMPLE_RATE / statistics.fmean(steady)
