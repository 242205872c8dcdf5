"""Levels and pitch of 48 kHz stereo 16-bit PCM: how loud, and which steady tone.

Pure Python on purpose (no numpy at run time): used per 20 ms frame by the sandbox's listener and on
short windows by the demo to name the sample surah it hears.
"""

from __future__ import annotations

import array
import itertools
import math
import operator
import statistics

SAMPLE_RATE = 48_000
CHANNELS = 2


#: The window quiet is measured over inside a frame: 2.5 ms, CELT's shortest frame. Short enough to see a
#: gap of a few ms inside a 20 ms frame, long enough to hold half a period of a 200 Hz tone.
QUIET_WINDOW_SAMPLES = 120


def frame_dbfs(pcm: bytes) -> float:
    """RMS level of a PCM frame in dBFS (-inf for digital silence)."""
    samples = array.array("h", pcm)
    if not samples:
        return -math.inf
    return dbfs(sum(s * s for s in samples[::4]) / len(samples[::4]))


def dbfs(mean_square: float) -> float:
    """A mean square of 16-bit samples in dBFS (-inf for digital silence)."""
    return -math.inf if mean_square <= 0 else 10.0 * math.log10(mean_square / (32768.0**2))


def mean_square_of(level_dbfs: float) -> float:
    """The mean square of 16-bit samples at `level_dbfs`: compare squares, not logarithms, per window."""
    return float((32768.0**2) * 10.0 ** (level_dbfs / 10.0))


def window_mean_squares(pcm: bytes, window: int = QUIET_WINDOW_SAMPLES) -> list[float]:
    """The left channel's mean square over each `window` samples of stereo PCM (every other sample, as
    `frame_dbfs` measures: their mean is the frame's level), so a silence inside a frame shows."""
    left = array.array("h", pcm)[::4]
    step = max(1, window // 2)
    chunks = (left[start : start + step] for start in range(0, len(left), step))
    return [sum(map(operator.mul, chunk, chunk)) / len(chunk) for chunk in chunks]


def longest_quiet_ms(pcm: bytes, level_dbfs: float, window: int = QUIET_WINDOW_SAMPLES) -> float:
    """The longest stretch of stereo PCM quieter than `level_dbfs`, in ms, measured in `window`s."""
    below = mean_square_of(level_dbfs)
    longest = run = 0
    for mean_square in window_mean_squares(pcm, window):
        run = run + 1 if mean_square < below else 0
        longest = max(longest, run)
    return longest * window * 1000 / SAMPLE_RATE


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
