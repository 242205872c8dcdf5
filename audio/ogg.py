"""Read Ogg Opus files (RFC 3533 pages, RFC 7845 Opus mapping) in pure Python, without ffmpeg or Discord.

Imported recitations are stored as Ogg Opus with 20 ms packets, and playback copies those packets to the
voice connection as they are. This module is the reader for that: it walks the pages of one logical
stream, checks each page's CRC, reassembles packets that span pages and hands out the audio packets only
(the `OpusHead` and `OpusTags` header packets are not audio and must never be sent).

It is deliberately small and self-contained: the audio engine must not import discord (its
`discord.oggparse` exists, but the player is tested without Discord). Speed matters for `probe_ogg_opus`,
which the importer and `doctor` run over whole libraries: the page CRC is computed by zlib's C code (see
`ogg_crc32`), so a 10-minute file probes in about 20 ms.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

SAMPLE_RATE = 48_000
"""Opus always decodes at 48 kHz; granule positions and pre-skip count 48 kHz samples."""

SAMPLES_PER_20MS = 960

CAPTURE_PATTERN = b"OggS"
_PAGE_HEADER = struct.Struct(
    "<4sBBqIIIB"
)  # capture, version, flags, granule, serial, sequence, crc, segments
_PAGE_HEADER_SIZE = _PAGE_HEADER.size  # 27
_CRC_OFFSET = 22

_FLAG_CONTINUED = 0x01
_FLAG_BOS = 0x02

_OPUS_HEAD_MAGIC = b"OpusHead"
_OPUS_TAGS_MAGIC = b"OpusTags"
_OPUS_HEAD = struct.Struct("<8sBBHIhB")  # magic, version, channels, pre-skip, input rate, gain, mapping

# First bytes of the identification packets of other codecs, to say what a non-Opus stream is.
_OTHER_CODECS = {
    b"\x01vorbis": "Vorbis",
    b"\x7fFLAC": "FLAC",
    b"Speex   ": "Speex",
    b"\x80theora": "Theora",
    b"fishead\x00": "Skeleton",
}


class OggError(ValueError):
    """The file, or a packet in it, is not valid Ogg Opus; the message says why and where."""


@dataclass(frozen=True, slots=True)
class OpusHead:
    """The identification header (RFC 7845 §5.1)."""

    version: int
    channels: int
    pre_skip: int
    """Samples (at 48 kHz) to drop from the start of the decoded audio: the encoder's look-ahead."""
    input_sample_rate: int
    """The original input's rate, informational only: Opus always decodes at 48 kHz."""
    output_gain: int
    """Gain to apply when decoding, in Q7.8 dB (256 = +1 dB), as stored."""
    mapping_family: int

    @property
    def output_gain_db(self) -> float:
        return self.output_gain / 256.0


@dataclass(frozen=True, slots=True)
class OggOpusInfo:
    """What `probe_ogg_opus` learned by walking every page of a file."""

    channels: int
    pre_skip: int
    input_sample_rate: int
    packet_count: int
    """Audio packets only (`OpusHead` and `OpusTags` are not counted)."""
    frame_ms: float | None
    """The duration of every packet, in ms, if all packets share one (a packet is Discord's "frame")."""
    all_20ms: bool
    """Every packet lasts exactly 20 ms, so packets can be copied to Discord as they are."""
    packet_samples: int
    """The sum of all packet durations in 48 kHz samples (the final granule may end earlier)."""
    granule_position: int
    """The last page's granule position: pre-skip plus the samples the file really holds."""
    duration_seconds: float
    """(granule_position - pre_skip) / 48000: the playable duration."""
    size_bytes: int


# --- CRC ---------------------------------------------------------------------------------------------

_CRC_POLYNOMIAL = 0x04C11DB7


def _build_crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        register = byte << 24
        for _ in range(8):
            register = ((register << 1) ^ _CRC_POLYNOMIAL) if register & 0x80000000 else register << 1
        table.append(register & 0xFFFFFFFF)
    return tuple(table)


_CRC_TABLE = _build_crc_table()

# Ogg's CRC is zlib's CRC-32 with the bits the other way round: the same polynomial, but MSB-first,
# with no initial or final inversion. Bit-reversing every input byte, running zlib's (reflected) CRC
# from a zero register and bit-reversing the 32-bit result gives exactly Ogg's CRC, at C speed.
_REVERSED_BYTES = bytes(int(f"{byte:08b}"[::-1], 2) for byte in range(256))


def ogg_crc32_reference(data: bytes) -> int:
    """Ogg's page CRC computed from the 256-entry table, byte by byte: the specification, made executable."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[((crc >> 24) ^ byte) & 0xFF]
    return crc


def ogg_crc32(data: bytes) -> int:
    """Ogg's page CRC (polynomial 0x04C11DB7, init 0, not reflected), equal to `ogg_crc32_reference`.

    zlib.crc32(data, value) starts from `value ^ 0xFFFFFFFF` and returns `register ^ 0xFFFFFFFF`, so
    passing 0xFFFFFFFF and inverting the result runs the bare register from zero.
    """
    reflected = zlib.crc32(data.translate(_REVERSED_BYTES), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return int.from_bytes(reflected.to_bytes(4, "little").translate(_REVERSED_BYTES), "big")


# --- Opus packets ------------------------------------------------------------------------------------

# Frame size in 48 kHz samples for each TOC configuration (RFC 6716 §3.1, table 2):
# 0-11 SILK 10/20/40/60 ms, 12-15 hybrid 10/20 ms, 16-31 CELT 2.5/5/10/20 ms.
_FRAME_SAMPLES: tuple[int, ...] = (480, 960, 1920, 2880) * 3 + (480, 960) * 2 + (120, 240, 480, 960) * 4
_MAX_PACKET_SAMPLES = 5760  # 120 ms


def opus_packet_duration_samples(packet: bytes) -> int:
    """The packet's duration in 48 kHz samples, from its TOC byte (RFC 6716 §3.1).

    Raises OggError for an empty packet, a code-3 packet without its frame-count byte, zero frames, or
    more than 120 ms of audio.
    """
    if not packet:
        raise OggError("empty Opus packet (an Opus packet has at least its TOC byte)")
    toc = packet[0]
    code = toc & 0x03
    if code == 0:
        frames = 1
    elif code != 3:
        frames = 2
    else:
        if len(packet) < 2:
            raise OggError("code-3 Opus packet without its frame-count byte")
        frames = packet[1] & 0x3F
        if frames == 0:
            raise OggError("code-3 Opus packet with zero frames")
    samples = frames * _FRAME_SAMPLES[toc >> 3]
    if samples > _MAX_PACKET_SAMPLES:
        raise OggError(f"Opus packet of {samples / 48:g} ms exceeds the 120 ms limit")
    return samples


# --- Pages and packets -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Page:
    flags: int
    granule: int
    serial: int
    sequence: int
    lacing: bytes
    body: bytes
    offset: int


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) == size:
        return data
    chunks = [data]
    got = len(data)
    while got < size:  # a pipe or socket may return less than asked for before the end
        more = stream.read(size - got)
        if not more:
            break
        chunks.append(more)
        got += len(more)
    return b"".join(chunks)


def _iter_pages(stream: BinaryIO, name: str) -> Iterator[_Page]:
    """Every page of the file in order, CRC-checked; a clean end of file simply stops the iteration."""
    offset = 0
    while True:
        header = _read_exact(stream, _PAGE_HEADER_SIZE)
        if not header:
            return
        if header[:4] != CAPTURE_PATTERN:
            if offset == 0:
                raise OggError(f"{name}: not an Ogg file (starts with {header[:8]!r})")
            raise OggError(f"{name}: bad capture pattern at byte {offset} (found {header[:4]!r})")
        if len(header) < _PAGE_HEADER_SIZE:
            raise OggError(f"{name}: truncated page header at byte {offset} ({len(header)} of 27 bytes)")
        _, version, flags, granule, serial, sequence, stored_crc, segments = _PAGE_HEADER.unpack(header)
        if version != 0:
            raise OggError(f"{name}: unsupported Ogg page version {version} at byte {offset}")
        lacing = _read_exact(stream, segments)
        body_size = sum(lacing)
        body = _read_exact(stream, body_size)
        if len(lacing) < segments or len(body) < body_size:
            have, want = len(lacing) + len(body), segments + body_size
            raise OggError(
                f"{name}: truncated page at byte {offset} ({have} of {want} bytes after its header)"
            )
        computed = ogg_crc32(b"".join((header[:_CRC_OFFSET], b"\0\0\0\0", header[26:], lacing, body)))
        if computed != stored_crc:
            raise OggError(
                f"{name}: CRC mismatch on page {sequence} at byte {offset} "
                f"(stored {stored_crc:#010x}, computed {computed:#010x})"
            )
        yield _Page(flags, granule, serial, sequence, lacing, body, offset)
        offset += _PAGE_HEADER_SIZE + segments + body_size


class _PacketReader:
    """Packets of the first logical stream in the file, reassembled across pages, with the page granule."""

    def __init__(self, stream: BinaryIO, name: str) -> None:
        self.name = name
        self.pages = _iter_pages(stream, name)
        self.serial: int | None = None
        self.last_granule = -1
        self.last_sequence = -1

    def _stream_pages(self) -> Iterator[_Page]:
        for page in self.pages:
            if self.serial is None:
                if not page.flags & _FLAG_BOS:
                    raise OggError(f"{self.name}: the first page does not begin a stream")
                self.serial = page.serial
            elif page.serial != self.serial:
                continue  # another multiplexed stream (or a chained one): not ours
            elif page.sequence != self.last_sequence + 1:
                raise OggError(
                    f"{self.name}: page {self.last_sequence + 1} is missing "
                    f"(page {page.sequence} follows page {self.last_sequence} at byte {page.offset})"
                )
            self.last_sequence = page.sequence
            if page.granule != -1:
                self.last_granule = page.granule
            yield page

    def packets(self, skip_audio: int = 0) -> Iterator[bytes]:
        """All packets in order, the two header packets included, except the `skip_audio` audio packets
        after them: those are counted from the lacing values of whole pages and never assembled."""
        chunks: list[bytes] = []  # the pieces of a packet that continues on the next page
        in_packet = False
        index = 0  # the number of packets completed so far, headers included
        skip_until = 2 + skip_audio
        for page in self._stream_pages():
            if bool(page.flags & _FLAG_CONTINUED) != in_packet:
                if in_packet:
                    raise OggError(f"{self.name}: page {page.sequence} drops the end of a packet")
                raise OggError(f"{self.name}: page {page.sequence} continues a packet that never began")
            lacing = page.lacing
            open_end = lacing[-1:] == b"\xff"  # the page ends inside a packet
            if index >= 2:
                ends = len(lacing) - lacing.count(255)
                if index + ends < skip_until or (index + ends == skip_until and not open_end):
                    index += ends  # every packet ending here is skipped: no slicing at all
                    in_packet = open_end
                    chunks = []
                    continue
            body = page.body
            start = position = 0
            for value in lacing:
                position += value
                if value == 255:
                    continue
                if chunks:
                    chunks.append(body[start:position])
                    packet = b"".join(chunks)
                    chunks = []
                else:
                    packet = body[start:position]
                start = position
                if index < 2 or index >= skip_until:
                    yield packet
                index += 1
            in_packet = open_end
            if open_end:
                chunks.append(body[start:])
        if in_packet:
            raise OggError(f"{self.name}: the file ends inside a packet (truncated?)")


def _parse_opus_head(packet: bytes, name: str) -> OpusHead:
    if not packet.startswith(_OPUS_HEAD_MAGIC):
        for magic, codec in _OTHER_CODECS.items():
            if packet.startswith(magic):
                raise OggError(f"{name}: not an Opus stream (the Ogg file holds {codec})")
        raise OggError(f"{name}: not an Opus stream (first packet starts with {packet[:8]!r})")
    if len(packet) < _OPUS_HEAD.size:
        raise OggError(f"{name}: OpusHead is {len(packet)} bytes, at least 19 expected")
    _, version, channels, pre_skip, rate, gain, mapping = _OPUS_HEAD.unpack_from(packet)
    if version >> 4 != 0:
        raise OggError(f"{name}: unsupported OpusHead version {version}")
    if channels == 0:
        raise OggError(f"{name}: OpusHead declares zero channels")
    return OpusHead(version, channels, pre_skip, rate, gain, mapping)


def _open(source: BinaryIO | Path | str) -> tuple[BinaryIO, str, bool]:
    if isinstance(source, str | Path):
        return open(source, "rb"), str(source), True  # closed by the caller
    return source, str(getattr(source, "name", "<stream>")), False


def _headers(packets: Iterator[bytes], name: str) -> OpusHead:
    first = next(packets, None)
    if first is None:
        raise OggError(f"{name}: not an Ogg file (empty)")
    head = _parse_opus_head(first, name)
    tags = next(packets, None)
    if tags is None or not tags.startswith(_OPUS_TAGS_MAGIC):
        raise OggError(f"{name}: the OpusTags header packet is missing")
    return head


def read_opus_head(path: Path | str) -> OpusHead:
    """The stream's `OpusHead`, after checking that the file is Ogg and the stream is Opus."""
    stream, name, _ = _open(path)
    with stream:
        packets = _PacketReader(stream, name).packets()
        first = next(packets, None)
        if first is None:
            raise OggError(f"{name}: not an Ogg file (empty)")
        return _parse_opus_head(first, name)


class OpusPacketStream:
    """The audio packets of an Ogg Opus file, read in one pass, and what the pass learns on the way: the
    `OpusHead` (once the first packet is out) and the last granule position read (the file's end, once
    the last packet is). A track boundary's join needs both (`join.py`), and a second read of the file
    only for them would cost the player I/O on every track.

    Iterate it like `iter_opus_packets`; nothing is opened before the first packet is asked for, and
    `close()` closes the file even mid-way."""

    def __init__(self, source: BinaryIO | Path | str, start_frame: int = 0) -> None:
        if start_frame < 0:
            raise ValueError(f"start_frame must be >= 0, not {start_frame}")
        self.head: OpusHead | None = None
        self._reader: _PacketReader | None = None
        self._packets = self._read(source, start_frame)

    @property
    def granule(self) -> int:
        """The granule position of the last page read so far (-1 before any): after the last packet,
        the file's end in 48 kHz samples, its pre-skip included."""
        return -1 if self._reader is None else self._reader.last_granule

    def __iter__(self) -> Generator[bytes, None, None]:
        return self._packets

    def close(self) -> None:
        self._packets.close()

    def _read(self, source: BinaryIO | Path | str, start_frame: int) -> Generator[bytes, None, None]:
        stream, name, owned = _open(source)
        try:
            self._reader = _PacketReader(stream, name)
            packets = self._reader.packets(skip_audio=start_frame)
            self.head = _headers(packets, name)
            yield from packets
        finally:
            if owned:
                stream.close()


def iter_opus_packets(source: BinaryIO | Path | str, start_frame: int = 0) -> Iterator[bytes]:
    """Yield the audio packets of an Ogg Opus file in order, skipping `OpusHead` and `OpusTags`.

    `start_frame` skips that many audio packets first (resuming mid-track): skipped pages are only
    CRC-checked and their lacing values counted, no packet is assembled. A path is opened and closed
    here; a file object is read from its current position and left open.
    """
    if start_frame < 0:
        raise ValueError(f"start_frame must be >= 0, not {start_frame}")
    packets = OpusPacketStream(source, start_frame)
    try:
        yield from packets
    finally:
        packets.close()


def probe_ogg_opus(path: Path | str) -> OggOpusInfo:
    """Walk every page of an Ogg Opus file: header, audio packet count and durations, final granule.

    Raises OggError if the file is not valid Ogg Opus (including any CRC mismatch or truncation).
    """
    stream, name, _ = _open(path)
    with stream:
        size = os.fstat(stream.fileno()).st_size
        reader = _PacketReader(stream, name)
        packets = reader.packets()
        head = _headers(packets, name)
        count = 0
        total = 0
        durations: set[int] = set()
        frame_samples = _FRAME_SAMPLES
        for packet in packets:
            # opus_packet_duration_samples, inlined for the common single-frame case: probing a
            # library touches every packet.
            if packet and not packet[0] & 0x03:
                samples = frame_samples[packet[0] >> 3]
            else:
                try:
                    samples = opus_packet_duration_samples(packet)
                except OggError as error:
                    raise OggError(f"{name}: audio packet {count}: {error}") from None
            durations.add(samples)
            total += samples
            count += 1
    granule = max(reader.last_granule, 0)
    frame_ms = durations.pop() / 48 if len(durations) == 1 else None
    return OggOpusInfo(
        channels=head.channels,
        pre_skip=head.pre_skip,
        input_sample_rate=head.input_sample_rate,
        packet_count=count,
        frame_ms=frame_ms,
        all_20ms=count > 0 and frame_ms == 20.0,
        packet_samples=total,
        granule_position=granule,
        duration_seconds=max(granule - head.pre_skip, 0) / SAMPLE_RATE,
        size_bytes=size,
    )
