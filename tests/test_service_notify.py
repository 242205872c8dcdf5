"""What a `quranbot run` under systemd tells it: READY only once reciting, WATCHDOG while well, STOPPING.

systemd itself cannot run here (no systemd PID 1 in CI's containers; the unit is checked with
`systemd-analyze` in test_systemd_unit.py). Its side of the sd_notify protocol is tiny, so this test
plays it for real: a Unix datagram socket in $NOTIFY_SOCKET, with $WATCHDOG_USEC set, exactly as
systemd sets them for a `Type=notify` unit with `WatchdogSec=`.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import time
from pathlib import Path

from ears import hearing_now, surahs_in
from processes import start_quranbot, stop_quranbot
from test_hung_track import hang_surah

from quranbot.audio.player import READ_DEADLINE_SECONDS
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


async def test_a_hung_track_file_does_not_stop_the_watchdog_pings(sandbox: Sandbox, home: Path) -> None:
    """A read that never returns (here surah 4's file is a FIFO nobody writes; on a server, a dying
    disk or a hung network mount) used to wedge the whole bot: the audio thread blocked opening it while
    holding the player, the event loop blocked on the player in turn, and systemd restarted the bot. Now
    only the player's reader thread for that file waits: surah 4 is skipped after READ_DEADLINE_SECONDS
    with one log line, the channel hears surah 5, and the pings go on all along."""
    listener = sandbox.listener(sandbox.default.voice)
    fifo = hang_surah(home, 4)
    path = home / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.setblocking(False)
        env = {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "3000000"}
        bot = await start_quranbot(*run_args(sandbox, home), env=env)
        try:
            received: list[tuple[float, dict[str, str]]] = []
            give_up, five_heard = time.monotonic() + 40, 0.0
            while time.monotonic() < give_up and not (five_heard and time.monotonic() - five_heard > 3):
                received += await notifications(sock, time.monotonic() + 0.25)
                if not five_heard and hearing_now(listener) == 5:  # 4 was skipped: its hang is over
                    five_heard = time.monotonic()
            ended = time.monotonic()
            code, _, err = await stop_quranbot(bot)  # a clean stop, the read still stuck (a daemon thread)
        finally:
            if bot.returncode is None:
                bot.kill()
                await bot.communicate()
    assert received and received[0][1].get("READY") == "1", "ready while surahs 1-3 play"
    pings = [at for at, fields in received if fields.get("WATCHDOG") == "1"]
    assert five_heard and len(pings) >= 3, "pinging while it recites, and the channel hears surah 5"
    assert max(b - a for a, b in itertools.pairwise(pings)) < 2.0, "never near WatchdogSec=3, hang or not"
    assert ended - pings[-1] < 2.0 and pings[-1] > five_heard, "still pinging after the hang"
    heard = surahs_in(listener.pcm())
    assert 4 not in heard and (3, 5) in itertools.pairwise(heard), heard  # the hang is skipped, not heard
    assert code == 0, err
    assert err.count(f"{fifo.name} of ") == 1 and f"did not answer in {READ_DEADLINE_SECONDS:g} s" in err, err
