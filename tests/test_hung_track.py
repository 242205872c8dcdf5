"""A track file whose read never returns must not freeze the bot (issue 15).

On a server that is a dying disk or a hung network mount; here it is a FIFO nobody writes, whose open
blocks for as long as no writer comes. The player reads every track in a reader thread of its own, so
the hang stops that thread alone: the track is skipped after READ_DEADLINE_SECONDS with one log line,
the channel hears the following surah, and the event loop (Discord, the control socket, the panel,
systemd's watchdog) never waits. The helpers here are the one way tests make such a track.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ears import hearing_now, surahs_in, wait_to_hear
from running_bot import RunningBot

from quranbot.audio.player import READ_DEADLINE_SECONDS
from quranbot.audio.sample import SAMPLE_SLUG
from quranbot.control.client import ControlClient
from quranbot.paths import Paths
from quranbot.sandbox.server import Sandbox


def fifo_in_place_of(track: Path) -> Path:
    """Replace a track file by a FIFO nobody writes: opening it blocks until a writer comes, as a read
    from a dying disk or a hung network mount never returns."""
    track.unlink()
    os.mkfifo(track)
    return track


def hang_surah(home: Path, surah: int) -> Path:
    """The sample reciter's file for `surah` under `home`, replaced by a FIFO (`fifo_in_place_of`)."""
    reciter = Paths.under(home).audio_dir / SAMPLE_SLUG
    manifest = json.loads((reciter / "manifest.json").read_text())
    (name,) = [track["file"] for track in manifest["tracks"] if track["surah"] == surah]
    return fifo_in_place_of(reciter / name)


def reader_threads(track: Path) -> list[threading.Thread]:
    """This process's player threads reading `track` (the player names them after the file)."""
    return [thread for thread in threading.enumerate() if thread.name == f"track reader {track.name}"]


def release_fifo(fifo: Path, timeout: float = 5.0) -> None:
    """End every read blocked on `fifo` here: a writer comes and goes, each reader's open returns and
    finds an empty file."""
    deadline = time.monotonic() + timeout
    while (stuck := reader_threads(fifo)) and time.monotonic() < deadline:
        with contextlib.suppress(OSError):  # ENXIO: nobody has it open for reading at this instant
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        stuck[0].join(0.05)
    assert not reader_threads(fifo), "a read blocked on the FIFO did not end when a writer came"


@contextlib.contextmanager
def unblocked_after(fifo: Path, seconds: float) -> Iterator[None]:
    """If the block outlasts `seconds`, writers keep coming to `fifo`: a test of an in-process bot whose
    event loop froze on the hang (the defect) then fails on its timings instead of hanging forever."""
    done = threading.Event()

    def unblock() -> None:
        if done.wait(seconds):
            return
        while not done.wait(0.05):
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    guard = threading.Thread(target=unblock, name=f"unblock {fifo.name}", daemon=True)
    guard.start()
    try:
        yield
    finally:
        done.set()
        guard.join(5)


async def test_a_hung_track_is_skipped_while_the_bot_keeps_answering(
    sandbox: Sandbox, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # as `quranbot run` logs
    listener = sandbox.listener(sandbox.default.voice)
    fifo = hang_surah(home, 2)
    with unblocked_after(fifo, 30):
        try:
            nowplaying_seconds, slowest_status = await hear_the_hang(sandbox, home, fifo)
        finally:
            release_fifo(fifo)
    assert nowplaying_seconds < 3.0 and slowest_status < 3.0, (nowplaying_seconds, slowest_status)
    heard = surahs_in(listener.pcm())
    assert heard[:2] == [1, 3], heard
    lines = [r.getMessage() for r in caplog.records if fifo.name in r.getMessage()]
    # one line when it is skipped, and at the stop one that says the read is still stuck
    assert len(lines) == 2 and f"did not answer in {READ_DEADLINE_SECONDS:g} s" in lines[0], lines
    assert lines[1] == f"Closed with 1 read(s) still stuck in the file system: {fifo.name}", lines


async def hear_the_hang(sandbox: Sandbox, home: Path, fifo: Path) -> tuple[float, float]:
    """Run the bot through surah 1, the hang on surah 2 and into surah 3, asking the control socket for
    `status` all along and a member's /nowplaying in the silence: how long the slash command and the
    slowest `status` took."""
    default = sandbox.default
    listener = sandbox.listener(default.voice)
    slowest_status = 0.0
    async with RunningBot(sandbox, home, voice_channels=(default.voice.id,)):
        await wait_to_hear(listener, 1, timeout=20)
        async with asyncio.timeout(10):
            while not any(c["name"] == "nowplaying" for c in default.application.global_commands):
                await asyncio.sleep(0.05)
        socket_path = Paths.under(home).control_socket
        async with asyncio.timeout(10):
            while not socket_path.exists():
                await asyncio.sleep(0.02)
        client = await ControlClient.connect(socket_path)

        async def poll_status() -> None:
            nonlocal slowest_status
            while True:
                started = time.monotonic()
                status: Any = await asyncio.wait_for(client.call("status"), 3)
                assert isinstance(status, dict)
                slowest_status = max(slowest_status, time.monotonic() - started)
                await asyncio.sleep(0.1)

        polling = asyncio.create_task(poll_status())
        # Surah 1 ends, surah 2's file never opens: silence, until it is skipped.
        async with asyncio.timeout(5):
            while hearing_now(listener) is not None:
                await asyncio.sleep(0.02)
        assert reader_threads(fifo), "the read of surah 2 hangs now"
        started = time.monotonic()
        record = await sandbox.run_command(default.listener, default.general, "nowplaying")
        answer = await record.wait(timeout=3)
        nowplaying_seconds = time.monotonic() - started
        assert "Sample tones" in answer["data"]["content"]

        await wait_to_hear(listener, 3, timeout=2 * READ_DEADLINE_SECONDS + 3)  # the following surah
        await listener.wait_for_packets(listener.packets + 25, timeout=5)  # and it goes on
        polling.cancel()
        with pytest.raises(asyncio.CancelledError):
            await polling
        assert reader_threads(fifo), "the read still hangs, and nothing else waits for it"
        await client.close()
    return nowplaying_seconds, slowest_status
