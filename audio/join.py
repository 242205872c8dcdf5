"""A join: the few Opus packets that carry a listener from one track's last sound into the next one's first.

Every Ogg Opus file decodes to more than its audio: its first `pre_skip` samples (312, the encoder's
look-ahead) are priming, and its last packet runs on past the end granule with padding. Packets copied
back to back, as playback does, therefore put ~20 ms of near-silence at every boundary. The files cannot
be joined at import (what follows a track is known only while playing: shuffle, loop, a jump), so the
player asks for a join when it opens the next track ahead, and this module builds it. It knows nothing
of the player, of threads or of Discord: packets and numbers in, packets out.

In each file's *decoded* timeline (what a listener hears; the real audio is [pre_skip, granule)):
the ending track A plays its own packets up to packet `at` - 1, and the join then stands for the next
track B's first n packets. It decodes to B's first n·960 samples, except that B's priming [0, pre_skip)
holds A's last real audio instead, whose final r samples are cross-faded (equal power) into B's first r.
r ≡ granule_A - pre_skip_B (mod 960) is what makes the whole a whole number of 20 ms packets, and at
least MIN_OVERLAP so the splice never clicks. So nothing audible is added or lost, B's packet numbers
keep their meaning (join packet i is B's frame i), and A's packets from `at` = (granule_A - pre_skip_B -
r) / 960 on are not played (1 or 2 of them): their audio is in the join, the rest of them was padding.

A fresh encoder's output lags its input by its look-ahead L (312 samples), and a listener's decoder
arrives at the join holding A's state: so the encoder is fed PRIME_FRAMES frames of A's own decoded
audio first (their packets are dropped), all of it L samples ahead of where it is wanted.
"""

from __future__ import annotations

import array
import functools
import math
import operator
from dataclasses import dataclass
from itertools import repeat

from quranbot.audio.opus_codec import Decoder, Encoder

#: Samples in one 20 ms packet at 48 kHz (imported tracks have only those).
FRAME = 960
#: Frames of the ending track encoded, and dropped, before the join: the encoder's state then matches.
PRIME_FRAMES = 3
#: Packets decoded, and thrown away, before the first one whose audio is used: a decoder started
#: mid-file needs a few to settle (energy prediction, overlap). None when decoding from the file's start.
WARMUP_FRAMES = 8
#: The shortest cross-fade (2.5 ms): shorter, a splice between two loud signals could click.
MIN_OVERLAP = 120
#: Packets at the end of a track that a join may need: its reader keeps this many.
ENDING_PACKETS = WARMUP_FRAMES + PRIME_FRAMES + 5
#: Packets at the start of a track that a join may need.
BEGINNING_PACKETS = 5


@dataclass(frozen=True)
class Ending:
    """What a join needs of the track that ends: its last packets and where the file's audio ends."""

    #: The file's last audio packets (up to ENDING_PACKETS of them), in order.
    packets: tuple[bytes, ...]
    #: The index of `packets[0]` among the file's audio packets.
    first: int
    #: The file's end granule: its decoded sample where the real audio stops.
    granule: int
    channels: int

    @property
    def count(self) -> int:
        """Audio packets in the file."""
        return self.first + len(self.packets)


@dataclass(frozen=True)
class Beginning:
    """What a join needs of the track that follows: its first packets and its priming."""

    #: The file's first audio packets (up to BEGINNING_PACKETS of them).
    packets: tuple[bytes, ...]
    pre_skip: int
    channels: int


@dataclass(frozen=True)
class Join:
    """The packets that replace a boundary, and where they go."""

    #: The ending track plays its packets before this index, then the join (the rest is padding).
    at: int
    #: Played instead of the next track's first len(packets) packets.
    packets: tuple[bytes, ...]
    #: Samples of the ending track cross-faded with the next one's first.
    overlap: int


def build_join(ending: Ending, beginning: Beginning, bitrate: int) -> Join | None:
    """The join from `ending` into `beginning`, encoded at `bitrate` (bit/s); None when either track is
    too short for one, or not made of 20 ms packets (then the packets play as they are).

    Raises OpusError if libopus refuses (a damaged packet): the caller plays the packets as they are."""
    count, granule, pre_skip = ending.count, ending.granule, beginning.pre_skip
    if not (count - 1) * FRAME < granule <= count * FRAME or not 0 <= pre_skip < 10 * FRAME:
        return None  # not one 20 ms packet per 960 samples: no arithmetic here would hold
    overlap = (granule - pre_skip) % FRAME
    if overlap < MIN_OVERLAP:
        overlap += FRAME
    at = (granule - pre_skip - overlap) // FRAME  # A's packets played before the join
    frames = -(-(pre_skip + overlap) // FRAME) + 1  # the join: A's tail, the fade, a packet of B alone
    prime = min(PRIME_FRAMES, at)
    decode_from = max(0, at - prime - WARMUP_FRAMES)
    if prime < 1 or decode_from < ending.first or len(beginning.packets) < frames + 1:
        return None
    channels = 1 if ending.channels == beginning.channels == 1 else 2
    with Encoder(channels, bitrate) as encoder:
        lookahead = encoder.lookahead
        # A decoded from its packet `decode_from` (its sample decode_from·960 on), B from its start.
        a = _decoded(ending.packets[decode_from - ending.first :], channels)
        b = _decoded(beginning.packets[: frames + 1], channels)
        a_origin = (at - decode_from) * FRAME  # where B's sample 0 falls in `a`
        # The audio wanted, in B's timeline, from `lookahead` samples later and PRIME_FRAMES earlier.
        first, fade, last = lookahead - prime * FRAME, pre_skip, frames * FRAME + lookahead
        if not 0 <= lookahead < FRAME or len(a) < (a_origin + fade + overlap) * channels:
            return None  # a packet that decoded short: not the 20 ms packets the arithmetic assumes
        if len(b) < last * channels:
            return None
        pcm = a[(a_origin + first) * channels : (a_origin + fade) * channels]
        fading_out = a[(a_origin + fade) * channels : (a_origin + fade + overlap) * channels]
        pcm.extend(_crossfade(fading_out, b[fade * channels : (fade + overlap) * channels], channels))
        pcm.extend(b[(fade + overlap) * channels : last * channels])
        size = FRAME * channels
        packets = [encoder.encode(pcm[i : i + size].tobytes()) for i in range(0, len(pcm), size)]
    return Join(at=at, packets=tuple(packets[prime:]), overlap=overlap)


def _decoded(packets: tuple[bytes, ...], channels: int) -> array.array[int]:
    """The packets decoded in order by one fresh decoder, as interleaved samples."""
    with Decoder(channels) as decoder:
        return array.array("h", b"".join(map(decoder.decode, packets)))


def _crossfade(out: array.array[int], into: array.array[int], channels: int) -> array.array[int]:
    """`out` fading out as `into` fades in, equal power (cos/sin): the level holds for unrelated audio.
    Chains of `map`, so the per-sample work (up to ~2,000 samples per join) runs in C."""
    keep, take = _fade_gains(len(out) // channels, channels)
    mixed = map(operator.add, map(operator.mul, out, keep), map(operator.mul, into, take))
    return array.array("h", map(round, map(min, repeat(32767.0), map(max, repeat(-32768.0), mixed))))


@functools.lru_cache(maxsize=32)
def _fade_gains(length: int, channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The fade-out and fade-in gains for each interleaved sample of a `length`-sample cross-fade."""
    angles = [(i + 0.5) / length * (math.pi / 2) for i in range(length) for _ in range(channels)]
    return tuple(map(math.cos, angles)), tuple(map(math.sin, angles))
