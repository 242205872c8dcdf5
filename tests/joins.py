"""Track boundaries as a listener hears them: what the player should send when tracks follow each other
with a join at each boundary (from the files alone, by the same `build_join` the player calls, without
its threads), and how long the audio goes quiet (numpy, independent of the product's own measure)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from discord.opus import Decoder

from quranbot.audio.join import BEGINNING_PACKETS, ENDING_PACKETS, Beginning, Ending, build_join
from quranbot.audio.ogg import OpusPacketStream, iter_opus_packets

#: As the sandbox's listener counts silence: quieter than this in a 2.5 ms window.
QUIET_DBFS = -55.0
WINDOW = 120  # 2.5 ms at 48 kHz


def ending_of(path: Path) -> Ending:
    stream = OpusPacketStream(path)
    packets = list(stream)
    assert stream.head is not None
    kept = packets[-ENDING_PACKETS:]
    return Ending(tuple(kept), len(packets) - len(kept), stream.granule, stream.head.channels)


def beginning_of(path: Path) -> Beginning:
    stream = OpusPacketStream(path)
    packets = list(stream)
    assert stream.head is not None
    return Beginning(tuple(packets[:BEGINNING_PACKETS]), stream.head.pre_skip, stream.head.channels)


def back_to_back(paths: list[Path], bitrate: int) -> list[list[bytes]]:
    """Each track's packets as the player sends them when `paths` play in this order and every join is
    ready in time: a track ends where its join begins, and the join's packets open the next track."""
    tracks = [list(iter_opus_packets(path)) for path in paths]
    for index in range(len(paths) - 1):
        join = build_join(ending_of(paths[index]), beginning_of(paths[index + 1]), bitrate)
        if join is not None:
            del tracks[index][join.at :]
            tracks[index + 1][: len(join.packets)] = join.packets
    return tracks


def decoded(packets: list[bytes]) -> np.ndarray:
    """The packets through one decoder, as a listener's (discord.py's libopus binding): stereo samples."""
    decoder = Decoder()  # type: ignore[no-untyped-call]
    pcm = b"".join(decoder.decode(packet, fec=False) for packet in packets)
    return np.frombuffer(pcm, dtype="<i2").reshape(-1, 2).astype(np.float64)


def quiet_runs_ms(samples: np.ndarray) -> list[float]:
    """Every stretch quieter than QUIET_DBFS between two sounds (2.5 ms windows, left channel), in ms:
    the gaps, not the silence before the first sound or after the last."""
    count = len(samples) // WINDOW
    left = samples[: count * WINDOW, 0].reshape(count, WINDOW)
    quiet = (left**2).mean(axis=1) < 32768.0**2 * 10 ** (QUIET_DBFS / 10)
    runs, run, heard = [], 0, False
    for window_is_quiet in quiet:
        if not window_is_quiet:
            heard = True
            if run:
                runs.append(run * 2.5)
            run = 0
        elif heard:
            run += 1
    return runs


def longest_quiet_ms(samples: np.ndarray) -> float:
    return max(quiet_runs_ms(samples), default=0.0)
