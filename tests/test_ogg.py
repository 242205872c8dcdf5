"""The Ogg Opus reader against files ffmpeg really wrote, pages crafted by hand, and the system libopus.

libopus (through ctypes, in this test only) is the independent judge that the packets the reader hands
out are real Opus: the reader itself never decodes anything.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import math
import os
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from quranbot.audio.ogg import (
    OggError,
    OpusPacketStream,
    iter_opus_packets,
    ogg_crc32,
    ogg_crc32_reference,
    opus_packet_duration_samples,
    probe_ogg_opus,
    read_opus_head,
)
from quranbot.audio.tone import ffmpeg_binary, write_tone

# --- helpers -----------------------------------------------------------------------------------------


def ffmpeg(*arguments: str) -> None:
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *arguments]
    subprocess.run(command, check=True, capture_output=True)


class Libopus:
    """Just enough of libopus's decoder API, loaded from the system library."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("opus")
        assert name is not None, "libopus is not installed (Debian: libopus0, a dependency of ffmpeg)"
        lib = ctypes.CDLL(name)
        lib.opus_decoder_create.restype = ctypes.c_void_p
        lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        lib.opus_decode.restype = ctypes.c_int
        lib.opus_decode.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int32,
            ctypes.POINTER(ctypes.c_int16),
            ctypes.c_int,
            ctypes.c_int,
        ]
        lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
        lib.opus_packet_get_nb_samples.restype = ctypes.c_int
        lib.opus_packet_get_nb_samples.argtypes = [ctypes.c_char_p, ctypes.c_int32, ctypes.c_int32]
        self.lib = lib

    def packet_samples(self, packet: bytes) -> int:
        return int(self.lib.opus_packet_get_nb_samples(packet, len(packet), 48000))

    def decode(self, packets: list[bytes], channels: int = 2) -> np.ndarray:
        """Decode every packet (each must succeed) into interleaved int16 samples."""
        error = ctypes.c_int(0)
        decoder = self.lib.opus_decoder_create(48000, channels, ctypes.byref(error))
        assert error.value == 0 and decoder
        buffer = (ctypes.c_int16 * (5760 * channels))()
        pieces = []
        try:
            for index, packet in enumerate(packets):
                samples = self.lib.opus_decode(decoder, packet, len(packet), buffer, 5760, 0)
                assert samples > 0, f"libopus rejected packet {index}: error {samples}"
                pieces.append(np.frombuffer(bytes(buffer), dtype=np.int16)[: samples * channels].copy())
        finally:
            self.lib.opus_decoder_destroy(decoder)
        return np.concatenate(pieces)


def crc_bitwise(data: bytes) -> int:
    """Ogg's CRC one bit at a time: a third implementation, sharing nothing with the module's two."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


def raw_pages(data: bytes) -> Iterator[tuple[int, int, bytes, bytes, int]]:
    """(flags, granule, lacing, body, offset) of every page, parsed independently of the module."""
    offset = 0
    while offset < len(data):
        _, _, flags, granule, _, _, _, segments = struct.unpack_from("<4sBBqIIIB", data, offset)
        lacing = data[offset + 27 : offset + 27 + segments]
        body = data[offset + 27 + segments : offset + 27 + segments + sum(lacing)]
        yield flags, granule, lacing, body, offset
        offset += 27 + segments + len(body)


def write_ogg(packets: list[bytes], final_granule: int, max_segments: int, serial: int = 0x51B0) -> bytes:
    """Put Opus packets into pages of at most `max_segments` lacing values, so that packets span pages.

    The two header packets get a page each (RFC 7845); audio pages carry the granule of the last packet
    that ends on them, or -1 if none does.
    """
    pages: list[tuple[int, int, list[int], bytes]] = [
        (0x02, 0, [len(packets[0])], packets[0]),
        (0x00, 0, [len(packets[1])], packets[1]),
    ]
    segments: list[tuple[int, bytes, bool]] = []  # lacing value, bytes, does a packet end here
    for packet in packets[2:]:
        pieces = [packet[i : i + 255] for i in range(0, len(packet), 255)] or [b""]
        if len(pieces[-1]) == 255:
            pieces.append(b"")  # a multiple of 255 bytes ends with a zero lacing value
        for number, piece in enumerate(pieces):
            segments.append((len(piece), piece, number == len(pieces) - 1))
    granule = 0
    continued = False
    for start in range(0, len(segments), max_segments):
        chunk = segments[start : start + max_segments]
        ended = sum(1 for _, _, ends in chunk if ends)
        granule += 960 * ended
        flags = 0x01 if continued else 0x00
        pages.append(
            (flags, granule if ended else -1, [v for v, _, _ in chunk], b"".join(p for _, p, _ in chunk))
        )
        continued = not chunk[-1][2]
    last_flags, _, last_lacing, last_body = pages[-1]
    pages[-1] = (last_flags | 0x04, final_granule, last_lacing, last_body)
    out = bytearray()
    for sequence, (flags, page_granule, lacing, body) in enumerate(pages):
        header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, page_granule, serial, sequence, 0, len(lacing))
        page = header + bytes(lacing) + body
        out += page[:22] + struct.pack("<I", crc_bitwise(page)) + page[26:]
    return bytes(out)


# --- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def libopus() -> Libopus:
    return Libopus()


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ogg")


@pytest.fixture(scope="module")
def sine_3s(audio_dir: Path) -> Path:
    """A 3.00 s, 440 Hz stereo sine encoded the way recitations are (libopus, 64 kb/s, 20 ms)."""
    return write_tone(audio_dir / "sine-3s.ogg", 440.0, 3.0)


@pytest.fixture(scope="module")
def noise_510k(audio_dir: Path) -> Path:
    """White noise at libopus's top bitrate, CBR: every packet is 1275 bytes = 5 x 255, so its lacing
    is five 255s and a terminating 0 (the edge case of a packet that is a multiple of 255 bytes)."""
    path = audio_dir / "noise-510k.ogg"
    source = "anoisesrc=duration=2:color=white:sample_rate=48000:amplitude=0.5"
    encoder = ["-c:a", "libopus", "-b:a", "510k", "-vbr", "off", "-frame_duration", "20"]
    ffmpeg("-f", "lavfi", "-i", source, "-ac", "2", *encoder, str(path))
    return path


# --- the header and the packet count -----------------------------------------------------------------


def test_read_opus_head_of_an_ffmpeg_file(sine_3s: Path) -> None:
    head = read_opus_head(sine_3s)
    assert (head.version, head.channels, head.input_sample_rate, head.output_gain) == (1, 2, 48000, 0)
    assert head.pre_skip == 312  # libopus's look-ahead at 48 kHz: 6.5 ms
    assert head.mapping_family == 0


@pytest.mark.parametrize("seconds", [1.0, 2.51, 3.0])
def test_packet_count_follows_from_granule_and_pre_skip(audio_dir: Path, seconds: float) -> None:
    """libopus prepends pre-skip samples and pads the end to a whole packet; the last page's granule
    trims the padding. So granule = pre_skip + samples, and packets = ceil(granule / 960)."""
    path = write_tone(audio_dir / f"sine-{seconds}.ogg", 440.0, seconds)
    info = probe_ogg_opus(path)
    samples = round(seconds * 48000)
    assert info.pre_skip == 312
    assert info.granule_position == samples + info.pre_skip
    assert info.packet_count == math.ceil(info.granule_position / 960)
    assert info.packet_samples == info.packet_count * 960
    assert info.duration_seconds == samples / 48000
    assert info.all_20ms and info.frame_ms == 20.0 and info.channels == 2
    assert info.size_bytes == path.stat().st_size
    assert len(list(iter_opus_packets(path))) == info.packet_count


def test_three_seconds_is_151_packets(sine_3s: Path) -> None:
    """150 packets of audio, plus one because 312 samples of pre-skip push the end over a boundary."""
    packets = list(iter_opus_packets(sine_3s))
    assert len(packets) == 151
    assert {opus_packet_duration_samples(packet) for packet in packets} == {960}
    assert not any(packet.startswith((b"OpusHead", b"OpusTags")) for packet in packets)


def test_packets_are_valid_opus_for_libopus(sine_3s: Path, libopus: Libopus) -> None:
    packets = list(iter_opus_packets(sine_3s))
    for packet in packets:
        assert libopus.packet_samples(packet) == opus_packet_duration_samples(packet) == 960
    pcm = libopus.decode(packets)
    info = probe_ogg_opus(sine_3s)
    left = pcm[0::2][info.pre_skip : info.granule_position].astype(np.float64)
    assert len(left) == 3 * 48000
    spectrum = np.abs(np.fft.rfft(left * np.hanning(len(left))))
    peak_hz = np.argmax(spectrum) * 48000 / len(left)
    assert abs(peak_hz - 440.0) < 1.0
    assert 0.05 < np.sqrt(np.mean((left / 32768) ** 2)) < 0.2  # the tone is there, not silence


def test_file_object_is_read_and_left_open(sine_3s: Path) -> None:
    stream = io.BytesIO(sine_3s.read_bytes())
    assert list(iter_opus_packets(stream)) == list(iter_opus_packets(sine_3s))
    assert not stream.closed


# --- packets longer than 255 bytes and packets across pages ------------------------------------------


def test_lacing_chains_of_255_within_pages(noise_510k: Path, libopus: Libopus) -> None:
    data = noise_510k.read_bytes()
    lacing = b"".join(page[2] for page in raw_pages(data))
    assert lacing.count(255) > 100  # the premise: many packets are longer than 255 bytes
    packets = list(iter_opus_packets(noise_510k))
    assert {len(packet) for packet in packets} == {1275}
    info = probe_ogg_opus(noise_510k)
    assert len(packets) == info.packet_count == math.ceil(info.granule_position / 960)
    # Everything each audio page holds, in order, is exactly the packets handed out.
    assert b"".join(packets) == b"".join(page[3] for page in list(raw_pages(data))[2:])
    assert len(libopus.decode(packets)) == len(packets) * 960 * 2


def test_packets_spanning_pages_in_an_ffmpeg_file(noise_510k: Path, libopus: Libopus) -> None:
    """ffmpeg's Ogg muxer fills a page to 255 lacing values and continues the packet on the next page:
    at 6 lacing values per packet, 1 s of audio (300 values) does not fit in one page."""
    pages = list(raw_pages(noise_510k.read_bytes()))
    assert any(flags & 0x01 for flags, *_ in pages)  # the premise: a continued page
    assert any(lacing[-1:] == b"\xff" for _, _, lacing, _, _ in pages)
    packets = list(iter_opus_packets(noise_510k))
    assert len(libopus.decode(packets)) == len(packets) * 960 * 2


@pytest.mark.parametrize("max_segments", [1, 2, 4, 7, 255])
def test_packets_spanning_pages_are_reassembled(
    noise_510k: Path, libopus: Libopus, tmp_path: Path, max_segments: int
) -> None:
    original = list(iter_opus_packets(noise_510k))
    data = noise_510k.read_bytes()
    header_bodies = [page[3] for page in list(raw_pages(data))[:2]]
    info = probe_ogg_opus(noise_510k)
    crafted = tmp_path / "spanning.ogg"
    crafted.write_bytes(write_ogg([*header_bodies, *original], info.granule_position, max_segments))
    pages = list(raw_pages(crafted.read_bytes()))
    if max_segments < 255:
        assert sum(1 for flags, *_ in pages if flags & 0x01) > len(original) // 2  # most packets span
    assert any(page[2][-1:] == b"\x00" for page in pages)  # 1275 = 5 x 255: a zero lacing value ends it
    assert list(iter_opus_packets(crafted)) == original
    crafted_info = probe_ogg_opus(crafted)
    assert crafted_info.packet_count == info.packet_count
    assert crafted_info.granule_position == info.granule_position
    if max_segments == 4:
        assert len(libopus.decode(list(iter_opus_packets(crafted)))) == len(original) * 960 * 2


# --- start_frame -------------------------------------------------------------------------------------


def test_start_frame_skips_exactly(sine_3s: Path) -> None:
    everything = list(iter_opus_packets(sine_3s))
    for start in [0, 1, 49, 50, 51, 100, 149, 150, 151, 500]:
        assert list(iter_opus_packets(sine_3s, start_frame=start)) == everything[start:], start


def test_start_frame_across_spanning_packets(noise_510k: Path, tmp_path: Path) -> None:
    original = list(iter_opus_packets(noise_510k))
    headers = [page[3] for page in list(raw_pages(noise_510k.read_bytes()))[:2]]
    crafted = tmp_path / "spanning.ogg"
    crafted.write_bytes(write_ogg([*headers, *original], probe_ogg_opus(noise_510k).granule_position, 3))
    for start in range(len(original) + 2):
        assert list(iter_opus_packets(crafted, start)) == original[start:], start


def test_negative_start_frame_is_refused(sine_3s: Path) -> None:
    with pytest.raises(ValueError, match="start_frame"):
        next(iter_opus_packets(sine_3s, -1))


def test_a_packet_stream_learns_the_header_and_the_end_granule_on_the_way(sine_3s: Path) -> None:
    """What a join at a track boundary needs, from the one pass that reads the packets anyway."""
    info = probe_ogg_opus(sine_3s)
    stream = OpusPacketStream(sine_3s)
    assert stream.head is None and stream.granule == -1  # nothing is opened before the first packet
    first = next(iter(stream))
    assert stream.head is not None and stream.head.pre_skip == 312 and stream.head.channels == 2
    rest = list(stream)
    assert [first, *rest] == list(iter_opus_packets(sine_3s))
    assert stream.granule == info.granule_position  # the last page's: where the real audio ends
    late = OpusPacketStream(sine_3s, start_frame=140)
    assert len(list(late)) == info.packet_count - 140 and late.granule == info.granule_position


# --- damage ------------------------------------------------------------------------------------------


def test_crc_matches_the_table_and_a_known_check_value() -> None:
    # CRC-32/CKSUM (the same polynomial, init 0, unreflected) checks "123456789" as 0x765E7680 with a
    # final inversion; Ogg does not invert.
    assert ogg_crc32(b"123456789") == ogg_crc32_reference(b"123456789") == 0x765E7680 ^ 0xFFFFFFFF
    for size in [0, 1, 27, 255, 4096]:
        data = os.urandom(size)
        assert ogg_crc32(data) == ogg_crc32_reference(data) == crc_bitwise(data)


@pytest.mark.parametrize("page_index", [0, 2, 4])
def test_a_flipped_byte_is_a_crc_mismatch(sine_3s: Path, tmp_path: Path, page_index: int) -> None:
    data = bytearray(sine_3s.read_bytes())
    _, _, lacing, body, offset = list(raw_pages(bytes(data)))[page_index]
    data[offset + 27 + len(lacing) + len(body) // 2] ^= 0x40
    damaged = tmp_path / "flipped.ogg"
    damaged.write_bytes(bytes(data))
    with pytest.raises(OggError, match=f"CRC mismatch on page {page_index} at byte {offset}"):
        probe_ogg_opus(damaged)
    with pytest.raises(OggError, match="CRC mismatch"):
        list(iter_opus_packets(damaged))


@pytest.mark.parametrize("keep", [10, 30, 200, 0.5])
def test_a_truncated_file_raises(sine_3s: Path, tmp_path: Path, keep: float) -> None:
    data = sine_3s.read_bytes()
    cut = tmp_path / "truncated.ogg"
    cut.write_bytes(data[: int(keep * len(data)) if keep < 1 else int(keep)])
    with pytest.raises(OggError, match="truncated"):
        probe_ogg_opus(cut)


def test_a_file_cut_at_a_page_boundary_inside_a_packet_raises(noise_510k: Path, tmp_path: Path) -> None:
    original = list(iter_opus_packets(noise_510k))
    headers = [page[3] for page in list(raw_pages(noise_510k.read_bytes()))[:2]]
    data = write_ogg([*headers, *original], probe_ogg_opus(noise_510k).granule_position, 4)
    pages = list(raw_pages(data))
    cut_at = next(offset for flags, _, _, _, offset in pages[5:] if flags & 0x01)  # a continued page
    cut = tmp_path / "cut.ogg"
    cut.write_bytes(data[:cut_at])
    with pytest.raises(OggError, match="ends inside a packet"):
        probe_ogg_opus(cut)


def test_garbage_between_pages_is_a_bad_capture_pattern(sine_3s: Path, tmp_path: Path) -> None:
    data = sine_3s.read_bytes()
    offset = list(raw_pages(data))[3][4]
    bad = tmp_path / "garbage.ogg"
    bad.write_bytes(data[:offset] + b"JUNK" + data[offset:])
    with pytest.raises(OggError, match=f"bad capture pattern at byte {offset}"):
        probe_ogg_opus(bad)


def test_a_missing_page_is_noticed(sine_3s: Path, tmp_path: Path) -> None:
    data = sine_3s.read_bytes()
    pages = list(raw_pages(data))
    start, end = pages[3][4], pages[4][4]
    gap = tmp_path / "gap.ogg"
    gap.write_bytes(data[:start] + data[end:])
    with pytest.raises(OggError, match="page 3 is missing"):
        probe_ogg_opus(gap)


def test_an_mp3_is_not_an_ogg_file(tmp_path: Path) -> None:
    mp3 = tmp_path / "tone.mp3"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "libmp3lame", str(mp3))
    with pytest.raises(OggError, match="not an Ogg file"):
        read_opus_head(mp3)
    with pytest.raises(OggError, match="not an Ogg file"):
        list(iter_opus_packets(mp3))


def test_an_empty_file_is_not_an_ogg_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.ogg"
    empty.write_bytes(b"")
    with pytest.raises(OggError, match=r"not an Ogg file \(empty\)"):
        read_opus_head(empty)


def test_ogg_flac_is_not_an_opus_stream(tmp_path: Path) -> None:
    flac = tmp_path / "tone.oga"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "flac", "-f", "ogg", str(flac))
    with pytest.raises(OggError, match=r"not an Opus stream \(the Ogg file holds FLAC\)"):
        read_opus_head(flac)
    with pytest.raises(OggError, match="not an Opus stream"):
        probe_ogg_opus(flac)


# --- TOC arithmetic ----------------------------------------------------------------------------------


def test_packet_durations_agree_with_libopus_for_every_toc(libopus: Libopus) -> None:
    for config in range(32):
        for code in range(4):
            toc = bytes([config << 3 | code])
            counts = [1, 2, 3, 6, 48] if code == 3 else [0]
            for count in counts:
                packet = toc + bytes([count]) + bytes(64) if code == 3 else toc + bytes(64)
                expected = libopus.packet_samples(packet)
                if expected < 0:  # libopus: invalid (more than 120 ms)
                    with pytest.raises(OggError, match="120 ms"):
                        opus_packet_duration_samples(packet)
                else:
                    assert opus_packet_duration_samples(packet) == expected, (config, code, count)


def test_frame_sizes_by_mode() -> None:
    assert [opus_packet_duration_samples(bytes([c << 3])) for c in range(0, 4)] == [480, 960, 1920, 2880]
    assert [opus_packet_duration_samples(bytes([c << 3])) for c in range(12, 16)] == [480, 960, 480, 960]
    assert [opus_packet_duration_samples(bytes([c << 3])) for c in range(16, 20)] == [120, 240, 480, 960]
    assert opus_packet_duration_samples(bytes([31 << 3 | 1])) == 1920  # two 20 ms CELT frames
    assert opus_packet_duration_samples(bytes([31 << 3 | 3, 6])) == 5760  # six: the 120 ms limit


@pytest.mark.parametrize(
    ("packet", "reason"),
    [(b"", "empty Opus packet"), (bytes([3]), "frame-count byte"), (bytes([3, 0]), "zero frames")],
)
def test_invalid_packets(packet: bytes, reason: str) -> None:
    with pytest.raises(OggError, match=reason):
        opus_packet_duration_samples(packet)


def test_sixty_ms_packets_are_not_all_20ms(tmp_path: Path) -> None:
    path = tmp_path / "sixty.ogg"
    source = "sine=duration=2:sample_rate=48000"
    ffmpeg("-f", "lavfi", "-i", source, "-c:a", "libopus", "-frame_duration", "60", str(path))
    info = probe_ogg_opus(path)
    assert info.frame_ms == 60.0 and not info.all_20ms
    assert info.packet_count == math.ceil(info.granule_position / 2880)
