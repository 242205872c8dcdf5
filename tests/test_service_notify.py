"""What a `quranbot run` under systemd tells it: READY only once reciting, WATCHDOG while well, STOPPING.

systemd itself cannot run here (no systemd PID 1 in CI's containers; the unit is checked with
`systemd-analyze` in test_systemd_unit.py). Its side of the sd_notify protocol is tiny, so this test
plays it for real: a Unix datagram socket in $NOTIFY_SOCKET, with $WATCHDOG_USEC set, exactly as
systemd sets them for a `Type=notify` unit with `WatchdogSec=`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import time
from pathlib import Path

from processes import start_quranbot, stop_quranbot

from quranbot.paths import Paths
from quranbot.sandbox.server import Sandbox


def run_args(sandbox: Sandbox, home: Path) -> list[str]:
    channel = str(sandbox.default.voice.id)
    return ["--home", str(home), "run", "--sandbox", sandbox.url, "--sandbox-cert", str(sandbox.cert_file),
            "--token-file", str(sandbox.directory / "token"), "--voice-channel", channel]  # fmt: skip


async def notifications(sock: socket.socket, until: float) -> list[tuple[float, dict[str, str]]]:
    loop = asyncio.get_running_loop()
    received = []
    while (left := until - time.monotonic()) > 0:
        try:
            data = await asyncio.wait_for(loop.sock_recv(sock, 4096), left)
        except TimeoutError:
            break
        fields = dict(line.split("=", 1) for line in data.decode().splitlines())
        received.append((time.monotonic(), fields))
    return received


async def test_ready_only_once_reciting_then_watchdog_then_stopping(sandbox: Sandbox, home: Path) -> None:
    default = sandbox.default
    listener = sandbox.listener(default.voice)
    path = home / "notify.sock"
    home.mkdir(parents=True, exist_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.setblocking(False)
        bot = await start_quranbot(
            *run_args(sandbox, home), env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1500000"}
        )
        loop = asyncio.get_running_loop()
        data = await asyncio.wait_for(loop.sock_recv(sock, 4096), 20)
        # the first message is READY, and by then the channel already hears the bot
        ready = dict(line.split("=", 1) for line in data.decode().splitlines())
        assert ready.get("READY") == "1", ready
        assert ready["STATUS"].startswith("Reciting ") and ready["STATUS"].endswith("(playing)")
        assert listener.packets > 0

        first = await notifications(sock, time.monotonic() + 3)
        pings = [at for at, fields in first if fields.get("WATCHDOG") == "1"]
        assert len(pings) >= 5, "three pings per 1.5 s WatchdogSec"
        gaps = [b - a for a, b in itertools.pairwise(pings)]
        assert max(gaps) < 1.0, "never near the watchdog's limit"
        assert all(fields["STATUS"].startswith("Reciting ") for _, fields in first if "STATUS" in fields)

        code, _, err = await stop_quranbot(bot)
        assert code == 0, err
        last = await notifications(sock, time.monotonic() + 1)
        assert any(fields.get("STOPPING") == "1" for _, fields in first + last)
    os.unlink(path)


async def test_without_notify_socket_nothing_is_sent(sandbox: Sandbox, home: Path) -> None:
    """Outside systemd (no $NOTIFY_SOCKET) the bot runs as before: the test is that it starts and plays."""
    default = sandbox.default
    listener = sandbox.listener(default.voice)
    bot = await start_quranbot(*run_args(sandbox, home), env={"NOTIFY_SOCKET": "", "WATCHDOG_USEC": ""})
    await listener.wait_for_packets(25, timeout=20)
    code, _, err = await stop_quranbot(bot)
    assert code == 0 and "Could not notify systemd" not in err


async def test_a_hung_track_file_stops_the_watchdog_pings(sandbox: Sandbox, home: Path) -> None:
    """A read that never returns (here surah 4's file is a FIFO nobody writes; on a server, a dying
    disk or a hung network mount): the audio thread blocks opening it while holding the player, the
    event loop blocks on the player in turn, and the pings stop within a watchdog period, so systemd
    restarts the bot. Before it, the bot recites and pings as usual."""
    reciter = Paths.under(home).audio_dir / "sample-tones"
    manifest = json.loads((reciter / "manifest.json").read_text())
    (surah_4,) = [track["file"] for track in manifest["tracks"] if track["surah"] == 4]
    (reciter / surah_4).unlink()
    os.mkfifo(reciter / surah_4)
    path = home / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.setblocking(False)
        env = {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "3000000"}
        bot = await start_quranbot(*run_args(sandbox, home), env=env)
        try:
            received = await notifications(sock, time.monotonic() + 15)
        finally:
            bot.kill()
            await bot.communicate()
    assert received and received[0][1].get("READY") == "1", "ready while surahs 1-3 play"
    pings = [at for at, fields in received if fields.get("WATCHDOG") == "1"]
    assert pings, "pinging while it recites"
    assert time.monotonic() - pings[-1] > 8.0, "then silence: systemd (WatchdogSec=3) would restart it"
