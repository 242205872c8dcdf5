"""Where one stream's CPU goes: the cost of a paced 20 ms frame, piece by piece, cold and hot.

`bench/playback.py` measures QuranBot's whole bot at about 1.9 % of a core for one stream; this bench
explains that figure. Each variant runs in its own thread, paced like discord.py's player thread (sleep
to the next 20 ms tick, then work), and its CPU is that thread's own CLOCK_THREAD_CPUTIME. Baseline in
the same run: the bare wake-up, sleeping and waking every 20 ms with no work at all, which any paced
Python sender pays. "hot" repeats the whole frame back to back, caches warm, to show how much of a
frame's cost is only coldness after 20 ms asleep.

Reproduce: .venv/bin/python bench/frame_cost.py [--seconds 5] [--runs 3]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import nacl.secret

from quranbot.audio.library import Library
from quranbot.audio.player import Player, PlayerSettings
from quranbot.audio.sample import SAMPLE_SLUG, write_sample_reciter

FRAME = 0.02


class Frame:
    """One frame as the bot's audio thread makes it: the player's next packet, discord.py's
    aead_xchacha20_poly1305_rtpsize encryption (RTP header as AAD, counter nonce) and one sendto."""

    def __init__(self, player: Player, sock: socket.socket) -> None:
        self.player = player
        self.sock = sock
        self.box = nacl.secret.Aead(bytes(32))
        self.number = 0

    def read(self) -> bytes:
        return self.player.read_frame()

    def encrypt(self, payload: bytes) -> bytes:
        self.number += 1
        header = bytearray(12)
        header[0], header[1] = 0x80, 0x78
        struct.pack_into(">HII", header, 2, self.number & 0xFFFF, self.number * 960, 7)
        nonce = struct.pack(">I", self.number) + bytes(20)
        return bytes(header) + self.box.encrypt(payload, bytes(header), nonce).ciphertext + nonce[:4]

    def send(self, datagram: bytes) -> None:
        self.sock.send(datagram)

    def whole(self) -> None:
        self.send(self.encrypt(self.read()))


def paced_cpu_us(work: Callable[[], None], seconds: float, frames_per_wake: int = 1) -> float:
    """CPU microseconds per frame of a thread that wakes every `frames_per_wake` x 20 ms and does
    `frames_per_wake` frames of `work`."""
    result: list[float] = []

    def run() -> None:
        period = FRAME * frames_per_wake
        wakes = int(seconds / period)
        start_cpu = time.thread_time()
        start = time.perf_counter()
        for wake in range(1, wakes + 1):
            for _ in range(frames_per_wake):
                work()
            delay = start + period * wake - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        result.append((time.thread_time() - start_cpu) / (wakes * frames_per_wake) * 1e6)

    thread = threading.Thread(target=run, name="paced")
    thread.start()
    thread.join()
    return result[0]


def hot_cpu_us(work: Callable[[], None], frames: int) -> float:
    start = time.thread_time()
    for _ in range(frames):
        work()
    return (time.thread_time() - start) / frames * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0, help="paced time per variant per run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        write_sample_reciter(Path(tmp), seconds=60.0, surahs=[1])
        player = Player(Library(Path(tmp)), PlayerSettings(reciter=SAMPLE_SLUG, loop=True))
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        receiver.bind(("127.0.0.1", 0))
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.connect(receiver.getsockname())  # nobody reads: loopback drops what overflows
        frame = Frame(player, sender)
        sample = frame.read()

        variants: dict[str, Callable[[], float]] = {
            "wake only (baseline)": lambda: paced_cpu_us(lambda: None, args.seconds),
            "wake + read (player.read_frame)": lambda: paced_cpu_us(frame.read, args.seconds),
            "wake + encrypt": lambda: paced_cpu_us(lambda: frame.encrypt(sample), args.seconds),
            "wake + sendto": lambda: paced_cpu_us(lambda: frame.send(sample), args.seconds),
            "wake + read + encrypt + sendto": lambda: paced_cpu_us(frame.whole, args.seconds),
            "  the same, 2 frames per 40 ms wake": lambda: paced_cpu_us(frame.whole, args.seconds, 2),
            "  the same, hot (back to back)": lambda: hot_cpu_us(frame.whole, 2000),
        }
        figures: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.runs):
            for name, measure in variants.items():  # interleaved: noise hits every variant alike
                figures[name].append(measure())

    baseline = statistics.median(figures["wake only (baseline)"])
    print(f"CPU per 20 ms frame, median of {args.runs} runs of {args.seconds:g} s; one thread, paced")
    print(f"{'':40} {'us/frame':>9} {'% of a core':>12} {'x wake':>7}")
    for name, values in figures.items():
        us = statistics.median(values)
        print(f"{name:40} {us:9.1f} {us / (FRAME * 1e6) * 100:12.2f} {us / baseline:7.1f}")
    print(f"reproduce: .venv/bin/python bench/frame_cost.py --seconds {args.seconds:g} --runs {args.runs}")


if __name__ == "__main__":
    main()
