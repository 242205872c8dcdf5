"""Joins at track boundaries, heard: real Ogg Opus files from ffmpeg (encoded as imports are), decoded by
a listener's libopus (discord.py's binding, not the engine's), the silence measured in 2.5 ms windows.

Played back to back as they are, two files leave the end padding of the first and the priming (pre-skip)
of the second between them: ~20 ms of near-silence. With the join the audio runs on, and exactly as
long as the two files' real audio, less the cross-fade.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
from joins import back_to_back, beginning_of, decoded, ending_of, longest_quiet_ms

from quranbot.audio.join import FRAME, MIN_OVERLAP, Beginning, Ending, build_join
from quranbot.audio.ogg import iter_opus_packets, probe_ogg_opus
from quranbot.audio.opus_codec import Decoder, Encoder, OpusError, OpusUnavailable, load_libopus
from quranbot.audio.tone import ffmpeg_binary
from quranbot.sandbox.listener import ChannelListener

BITRATE = 64_000


def tone(path: Path, hz: float, seconds: float, channels: int = 2) -> Path:
    """A sine as imports encode recitations: libopus, 20 ms packets, application audio, VBR."""
    subprocess.run(
        [
            ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"sine=frequency={hz}:duration={seconds}:sample_rate=48000",
            "-ac", str(channels), "-c:a", "libopus", "-b:a", f"{BITRATE // 1000}k", "-frame_duration", "20",
            "-application", "audio", "-vbr", "on", "-f", "ogg", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("joins")


@pytest.fixture(scope="module")
def files(folder: Path) -> dict[str, Path]:
    """1.0 s ends with 648 samples of padding (with B's 312 of priming: a whole 20 ms of quiet); 1.013 s
    with 24, so its cross-fade is shorter; 0.4 s is a short ayah's length."""
    made = {
        "a": (440.0, 1.0),
        "a2": (440.0, 1.013),
        "b": (660.0, 0.9),
        "ayah": (550.0, 0.4),
    }
    paths = {name: folder / f"{name}.ogg" for name in made}
    for name, (hz, seconds) in made.items():
        tone(paths[name], hz, seconds)
    return paths


def flat(tracks: list[list[bytes]]) -> list[bytes]:
    return [packet for track in tracks for packet in track]


@pytest.mark.parametrize(("first", "second"), [("a", "b"), ("a2", "b"), ("b", "ayah"), ("ayah", "a")])
def test_a_join_takes_the_silence_out_of_the_boundary(
    files: dict[str, Path], first: str, second: str
) -> None:
    a, b = files[first], files[second]
    untouched = decoded(list(iter_opus_packets(a)) + list(iter_opus_packets(b)))
    joined = decoded(flat(back_to_back([a, b], BITRATE)))
    if first == "a":  # 648 samples of padding + 312 of priming: 20 ms, of which ~15 under -55 dBFS
        assert longest_quiet_ms(untouched) >= 10.0
    assert longest_quiet_ms(joined) <= 3.0, longest_quiet_ms(joined)


@pytest.mark.parametrize(("first", "second"), [("a", "b"), ("a2", "b"), ("b", "ayah")])
def test_a_join_neither_repeats_nor_drops_audio(files: dict[str, Path], first: str, second: str) -> None:
    """What is heard is A's real audio then B's, cross-faded over `overlap` samples: as long as that,
    to the sample, and in place (no shift) around the join."""
    a, b = files[first], files[second]
    a_info, b_info = probe_ogg_opus(a), probe_ogg_opus(b)
    a_packets, b_packets = list(iter_opus_packets(a)), list(iter_opus_packets(b))
    join = build_join(ending_of(a), beginning_of(b), BITRATE)
    assert join is not None
    r, pre_skip = join.overlap, b_info.pre_skip
    assert MIN_OVERLAP <= r < MIN_OVERLAP + FRAME
    assert (a_info.granule_position - pre_skip - r) % FRAME == 0  # a whole number of packets
    assert join.at == (a_info.granule_position - pre_skip - r) // FRAME

    heard = decoded(a_packets[: join.at] + list(join.packets) + b_packets[len(join.packets) :])
    # A decoded (pre-skip included) to its real end, the fade, then B's real audio to its last packet.
    a_audio, b_audio = decoded(a_packets), decoded(b_packets)
    end = a_info.granule_position
    angle = (np.arange(r) + 0.5) / r * (math.pi / 2)
    fade = (
        a_audio[end - r : end] * np.cos(angle)[:, None]
        + b_audio[pre_skip : pre_skip + r] * np.sin(angle)[:, None]
    )
    wanted = np.concatenate([a_audio[: end - r], fade, b_audio[pre_skip + r :]])
    assert len(heard) == len(wanted) == end + len(b_packets) * FRAME - pre_skip - r
    real = (a_info.granule_position - a_info.pre_skip) + (b_info.granule_position - pre_skip)
    assert len(heard) - real == a_info.pre_skip + (len(b_packets) * FRAME - b_info.granule_position) - r

    around = slice(join.at * FRAME - 2 * FRAME, (join.at + len(join.packets)) * FRAME + 2 * FRAME)

    def match(shift: int) -> float:
        moved = slice(around.start + shift, around.stop + shift)
        return float(np.sum(heard[moved, 0] * wanted[around, 0]))

    assert max(range(-24, 25), key=match) == 0  # in place: not one sample early or late
    error = heard[around] - wanted[around]
    assert 10 * np.log10(np.mean(wanted[around] ** 2) / np.mean(error**2)) >= 15.0  # the same audio


def test_mono_tracks_join_in_mono(folder: Path) -> None:
    a, b = (
        tone(folder / "mono-a.ogg", 440.0, 1.0, channels=1),
        tone(folder / "mono-b.ogg", 660.0, 0.9, channels=1),
    )
    join = build_join(ending_of(a), beginning_of(b), BITRATE)
    assert join is not None
    assert all(not packet[0] & 0x04 for packet in join.packets)  # the TOC's stereo flag: mono, as the files
    assert longest_quiet_ms(decoded(flat(back_to_back([a, b], BITRATE)))) <= 3.0


def test_tracks_too_short_for_a_join_play_as_they_are(folder: Path, files: dict[str, Path]) -> None:
    tiny, short = folder / "tiny.ogg", folder / "short.ogg"
    tone(tiny, 300.0, 0.005)  # 5 ms: one packet, all of it before the next file's priming ends
    tone(short, 300.0, 0.02)  # 20 ms: two packets, fewer than a join replaces
    assert build_join(ending_of(tiny), beginning_of(files["b"]), BITRATE) is None
    assert build_join(ending_of(files["a"]), beginning_of(short), BITRATE) is None
    assert back_to_back([files["a"], short], BITRATE)[1] == list(iter_opus_packets(short))
    # The end of a track whose reader started too late to hold the packets the encoder is primed with
    # (a restart in its last 40 ms): no join, rather than a poor one.
    whole = ending_of(files["a"])
    late = Ending(whole.packets[-2:], whole.count - 2, whole.granule, whole.channels)
    assert build_join(late, beginning_of(files["b"]), BITRATE) is None
    # ... while a file read from its start needs no warm-up at all: two packets are enough.
    two = folder / "two.ogg"
    tone(two, 300.0, 0.03)
    assert build_join(ending_of(two), beginning_of(files["b"]), BITRATE) is not None


def test_a_damaged_packet_is_an_opus_error_not_a_bad_join(files: dict[str, Path]) -> None:
    beginning = beginning_of(files["b"])
    damaged = Beginning((b"\xff", *beginning.packets[1:]), beginning.pre_skip, beginning.channels)
    with pytest.raises(OpusError, match="could not decode a packet"):
        build_join(ending_of(files["a"]), damaged, BITRATE)


def test_the_codec_is_the_system_libopus() -> None:
    encoder = Encoder(channels=2, bitrate=BITRATE)
    assert encoder.lookahead == 312  # what ffmpeg's files carry as pre-skip
    t = np.arange(48_000)
    sine = (np.sin(2 * np.pi * 1000 * t / 48_000) * 8000).astype("<i2")
    pcm = np.repeat(sine, 2).tobytes()
    decoder = Decoder(channels=2)
    out = b"".join(decoder.decode(encoder.encode(pcm[i : i + 3840])) for i in range(0, len(pcm), 3840))
    left = np.frombuffer(out, dtype="<i2")[::2].astype(np.float64)
    assert len(left) == 48_000
    spectrum = np.abs(np.fft.rfft(left[4800:] * np.hanning(len(left) - 4800), n=48_000))
    assert abs(int(np.argmax(spectrum)) - 1000) <= 1
    with pytest.raises(OpusError, match=r"corrupted stream|invalid packet"):
        decoder.decode(b"\xff")
    with pytest.raises(OpusUnavailable, match=r"could not be loaded from /nonexistent/libopus\.so\.0"):
        load_libopus("/nonexistent/libopus.so.0")


def test_the_sandbox_listener_measures_the_gap_inside_frames(files: dict[str, Path]) -> None:
    """The sandbox's own ears (what the bot's tests read): whole silent frames miss this gap, 2.5 ms
    windows do not."""
    a, b = files["a"], files["b"]
    for packets, quiet in (
        (list(iter_opus_packets(a)) + list(iter_opus_packets(b)), (10.0, 20.0)),
        (flat(back_to_back([a, b], BITRATE)), (0.0, 3.0)),
    ):
        listener = ChannelListener(channel_id=1)
        for number, packet in enumerate(packets):
            listener.receive(1, number, number * FRAME, packet, arrived=number * 0.02)
        stats = listener.stats()
        assert stats.silent_frames == 0  # never a whole silent frame, with or without the join
        assert quiet[0] <= stats.longest_quiet_ms <= quiet[1], stats.summary()
