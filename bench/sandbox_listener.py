"""How much does listening cost the sandbox? Per-packet time of decrypt + decode + statistics.

The sandbox measures the bot's packet cadence from inside the same process, so its own per-packet work
must stay a small fraction of the 20 ms frame interval. Baseline in the same run: libopus decode alone.

Reproduce: .venv/bin/python bench/sandbox_listener.py [--seconds 20] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nacl.secret
from discord.oggparse import OggStream
from discord.opus import Decoder

from quranbot.audio.tone import write_tone
from quranbot.sandbox.listener import ChannelListener
from quranbot.sandbox.voice_udp import XCHACHA, decrypt_rtp


def opus_packets(seconds: float) -> list[bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_tone(Path(tmp) / "tone.ogg", 440.0, seconds)
        with path.open("rb") as handle:
            packets = list(OggStream(handle).iter_packets())
    return [p for p in packets if not p.startswith((b"OpusHead", b"OpusTags"))]


def encrypt_like_discord_py(packets: list[bytes], key: bytes, ssrc: int = 7) -> list[bytes]:
    """RTP header as AAD, 32-bit counter nonce appended: discord.py's aead_xchacha20_poly1305_rtpsize."""
    box = nacl.secret.Aead(key)
    datagrams = []
    for number, payload in enumerate(packets):
        header = bytearray(12)
        header[0], header[1] = 0x80, 0x78
        struct.pack_into(">HII", header, 2, number & 0xFFFF, number * 960, ssrc)
        nonce = struct.pack(">I", number) + bytes(20)
        datagrams.append(bytes(header) + box.encrypt(payload, bytes(header), nonce).ciphertext + nonce[:4])
    return datagrams


def per_packet_us(work: Callable[[], None], count: int) -> float:
    start = time.perf_counter()
    work()
    return (time.perf_counter() - start) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=20.0, help="audio per run (50 packets a second)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    packets = opus_packets(args.seconds)
    key = bytes(range(32))
    datagrams = encrypt_like_discord_py(packets, key)

    def decode_only() -> None:
        decoder = Decoder()  # type: ignore[no-untyped-call]
        for packet in packets:
            decoder.decode(packet, fec=False)

    def full_path() -> None:
        listener = ChannelListener(1)
        now = time.perf_counter()
        for number, datagram in enumerate(datagrams):
            rtp = decrypt_rtp(datagram, XCHACHA, key)
            listener.receive(rtp.ssrc, rtp.sequence, rtp.timestamp, rtp.payload, now + number * 0.02)

    baseline = [per_packet_us(decode_only, len(packets)) for _ in range(args.runs)]
    listening = [per_packet_us(full_path, len(datagrams)) for _ in range(args.runs)]
    base, full = statistics.median(baseline), statistics.median(listening)
    print(f"packets per run: {len(packets)} ({args.seconds:.0f} s of audio), runs: {args.runs}")
    print(f"libopus decode only (baseline):       median {base:7.1f} us/packet")
    print(f"sandbox listening (decrypt+decode+stats): median {full:7.1f} us/packet")
    print(f"ratio listening/baseline: {full / base:.2f}x")
    print(f"share of the 20 ms frame interval per stream: {full / 20_000:.2%}")
    print(
        f"reproduce: .venv/bin/python bench/sandbox_listener.py --seconds {args.seconds:g} --runs {args.runs}"
    )


if __name__ == "__main__":
    main()
