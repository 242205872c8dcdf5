"""The control socket as the CLI and the TUI use it: the real bot on the sandbox, a real Unix socket.

What a change over the socket does is checked by ear (the sandbox hears the surah), and every kind of
bad client is checked for two things: it gets a clear error (or is closed), and the bot plays on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest
from ears import wait_to_hear
from processes import as_nobody
from running_bot import RunningBot

from quranbot.control import protocol
from quranbot.control.address import SUN_PATH_MAX
from quranbot.control.client import BotNotRunning, ControlClient, ControlError
from quranbot.control.protocol import Request
from quranbot.control.server import Connection, ControlServer
from quranbot.paths import Paths
from quranbot.sandbox.server import Sandbox


async def bot_socket(home: Path) -> Path:
    """The bot's control socket, once it answers."""
    path = Paths.under(home).control_socket
    async with asyncio.timeout(10):
        while not path.exists():
            await asyncio.sleep(0.02)
    return path


async def playing_client(sandbox: Sandbox, home: Path) -> ControlClient:
    await sandbox.listener(sandbox.default.voice).wait_for_packets(10, timeout=20)
    return await ControlClient.connect(await bot_socket(home))


async def raw(path: Path) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, dict[str, Any]]:
    reader, writer = await asyncio.open_unix_connection(str(path), limit=4 * 1024 * 1024)
    hello = json.loads(await reader.readline())
    return reader, writer, hello


async def ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, line: bytes) -> dict[str, Any]:
    writer.write(line)
    await writer.drain()
    async with asyncio.timeout(5):
        return dict(json.loads(await reader.readline()))


async def test_status_says_what_plays_and_who_listens(sandbox: Sandbox, home: Path) -> None:
    default = sandbox.default
    await sandbox.join_voice(default.listener, default.voice)
    async with RunningBot(sandbox, home, voice_channels=(default.voice.id,)):
        client = await playing_client(sandbox, home)
        assert client.hello["protocol"] == 1 and client.hello["pid"] == os.getpid()
        status = await client.call("status")
        (guild,) = status["guilds"]
        assert guild["guild_id"] == str(default.guild.id) and guild["channel_name"] == default.voice.name
        assert guild["state"] == "playing" and guild["connection"]["state"] == "connected"
        assert guild["surah"] == 1 and guild["surah_name"] == "Al-Faatiha"
        assert guild["surah_arabic"] == "الفاتحة"
        assert guild["reciter"] == "sample-tones" and 0 < guild["duration"] < 2
        assert [m["name"] for m in guild["listeners"]] == [default.listener.user.username]
        stats = await client.call("stats")
        assert stats["logged_in"] and stats["voice_connected"] == 1 and stats["packets_sent"] > 0
        assert stats["rss_bytes"] > 10 * 1024 * 1024 and stats["last_backup"] is not None
        (reciter,) = (await client.call("reciters"))["reciters"]
        assert reciter["slug"] == "sample-tones" and reciter["surahs"] == 7 and reciter["sample"]
        await client.close()
        assert Paths.under(home).control_socket.exists()
    assert not Paths.under(home).control_socket.exists()  # removed at a clean stop


async def test_control_steers_the_bot_as_heard(sandbox: Sandbox, home: Path) -> None:
    listener = sandbox.listener(sandbox.default.voice)
    async with RunningBot(sandbox, home, voice_channels=(sandbox.default.voice.id,)):
        client = await playing_client(sandbox, home)
        after = await client.call("control", action="play", surah=5)
        assert after["surah"] == 5 and after["last_action"]["what"] == "Playing 5. Al-Maaida"
        assert after["last_action"]["who"].endswith("(terminal)")
        await wait_to_hear(listener, 5, timeout=3)
        await client.call("control", action="next")
        await wait_to_hear(listener, 6, timeout=3)
        paused = await client.call("control", action="pause")
        assert paused["state"] == "paused"
        await asyncio.sleep(0.3)
        mark = listener.packets
        await asyncio.sleep(0.5)
        assert listener.packets - mark <= 5
        await client.call("control", action="resume")
        await listener.wait_for_packets(mark + 20, timeout=3)
        assert (await client.call("control", action="loop"))["loop"] is True
        assert (await client.call("control", action="loop", on=False))["loop"] is False

        with pytest.raises(ControlError) as refused:
            await client.call("control", action="play", surah=115)
        assert refused.value.code == "bad_params" and "1–114" in refused.value.message
        with pytest.raises(ControlError) as unknown:
            await client.call("control", action="reciter", reciter="nobody")
        assert unknown.value.code == "refused" and "nobody" in unknown.value.message
        backup = await client.call("control", action="backup")
        assert (Paths.under(home).backups_dir / backup["name"]).is_file()
        await client.close()


async def test_subscribers_get_a_snapshot_then_changes(
    sandbox: Sandbox, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # as `quranbot run` logs
    async with RunningBot(sandbox, home, voice_channels=(sandbox.default.voice.id,)):
        client = await playing_client(sandbox, home)
        assert await client.subscribe("player", "logs", "stats") == ["logs", "player", "stats"]
        seen: dict[str, list[Any]] = {"player": [], "logs": [], "stats": []}

        async def until(check: Any) -> None:
            async with asyncio.timeout(5):
                while not check():
                    name, data = await client.events.get()
                    seen[name].append(data)

        await until(lambda: seen["player"] and seen["stats"] and seen["logs"])
        assert any("Reciting in" in line["message"] for line in seen["logs"])  # the snapshot's history
        helper = await ControlClient.connect(Paths.under(home).control_socket)
        await helper.call("control", action="play", surah=3)
        await until(lambda: any(p["surah"] == 3 for p in seen["player"]))
        await until(lambda: any("Playing 3." in line["message"] for line in seen["logs"]))
        await helper.close()
        await client.close()


async def test_secrets_never_reach_the_log_lines(sandbox: Sandbox, home: Path) -> None:
    async with RunningBot(sandbox, home, voice_channels=(sandbox.default.voice.id,)):
        client = await playing_client(sandbox, home)
        logging.getLogger("quranbot.test").warning("token is %s", sandbox.token)
        lines = (await client.call("logs", limit=20, level="warning"))["lines"]
        assert any(line["message"] == "token is ********" for line in lines)
        assert all(sandbox.token not in json.dumps(line) for line in lines)
        await client.close()


async def test_junk_gets_clear_errors_and_the_bot_plays_on(sandbox: Sandbox, home: Path) -> None:
    listener = sandbox.listener(sandbox.default.voice)
    async with RunningBot(sandbox, home, voice_channels=(sandbox.default.voice.id,)):
        await listener.wait_for_packets(10, timeout=20)
        reader, writer, _ = await raw(await bot_socket(home))
        assert (await ask(reader, writer, b"{not json\n"))["error"]["code"] == "bad_json"
        assert (await ask(reader, writer, b"[1, 2]\n"))["error"]["code"] == "bad_request"
        assert (await ask(reader, writer, b'{"id": 1, "method": "dance"}\n'))["error"] == {
            "code": "unknown_method",
            "message": "no method 'dance'; the methods are: " + ", ".join(protocol.METHODS),
        }
        wrong = await ask(reader, writer, b'{"id": 2, "method": "control", "params": {"action": "play", '
                          b'"surah": "five"}}\n')  # fmt: skip
        assert wrong["error"] == {
            "code": "bad_params",
            "message": '"surah" must be a whole number, not "five"',
        }
        bad_topic = await ask(
            reader, writer, b'{"id": 3, "method": "subscribe", "params": {"topics": ["x"]}}\n'
        )
        assert "no topic 'x'" in bad_topic["error"]["message"]
        assert (await ask(reader, writer, b'{"id": 4, "method": "ping"}\n')) == {
            "id": 4,
            "result": {"pong": True},
        }

        # a line over 1 MiB: an error, then the connection closes
        writer.write(b'{"id": 5, "method": "ping", "params": {"x": "' + b"a" * (1024 * 1024 + 10) + b'"}}\n')
        await writer.drain()
        async with asyncio.timeout(5):
            too_long = json.loads(await reader.readline())
            assert too_long["error"]["code"] == "line_too_long"
            assert await reader.read() == b""
        writer.close()

        # hundreds of clients: the first 256 are served, the rest told why they are refused
        mark = listener.packets
        opened = [
            await asyncio.open_unix_connection(str(Paths.under(home).control_socket)) for _ in range(300)
        ]
        firsts = [json.loads(await r.readline()) for r, _ in opened]
        assert sum(1 for m in firsts if m.get("event") == "hello") == 256
        assert all(m["error"]["code"] == "busy" for m in firsts if "error" in m)
        for _, w in opened:
            w.close()
        await listener.wait_for_packets(mark + 50, timeout=3)
    # One unbroken stream throughout: nothing lost, no jump in the RTP timestamps. (Arrival gaps are not
    # the measure here: the sandbox stamps arrivals on the loop that is also accepting 300 clients.)
    stats = listener.stats()
    assert stats.lost_packets == 0 and stats.timestamp_jumps == 0


class Echo:
    """A minimal real handler, for the server's own limits (idle, queue, peers) without a bot."""

    async def handle(self, request: Request, connection: Connection) -> Any:
        return {"method": request.method}

    def snapshot(self, topic: str) -> list[tuple[str, Any]]:
        return [(topic, {"snapshot": True})]


async def test_a_silent_client_is_told_and_closed(tmp_path: Path) -> None:
    server = ControlServer(tmp_path / "c.sock", Echo(), idle_timeout=0.3)
    await server.start()
    try:
        reader, writer, hello = await raw(tmp_path / "c.sock")
        assert hello["event"] == "hello"
        async with asyncio.timeout(3):
            idle = json.loads(await reader.readline())
            assert idle["error"]["code"] == "idle" and "no request for 0.3 s" in idle["error"]["message"]
            assert await reader.read() == b""
        writer.close()
    finally:
        await server.close()


async def test_a_slow_subscriber_loses_the_oldest_events_and_is_told(tmp_path: Path) -> None:
    server = ControlServer(tmp_path / "c.sock", Echo(), queue_limit=100)
    await server.start()
    try:
        reader, writer, _ = await raw(tmp_path / "c.sock")
        assert (
            await ask(reader, writer, b'{"id": 1, "method": "subscribe", "params": {"topics": ["logs"]}}\n')
        )["result"] == {"topics": ["logs"]}
        assert json.loads(await reader.readline())["data"] == {"snapshot": True}
        # The client stops reading; publish never waits for it.
        loop = asyncio.get_running_loop()
        started = loop.time()
        for number in range(20_000):
            server.publish("logs", {"n": number, "pad": "x" * 200})
        assert loop.time() - started < 1.0
        await asyncio.sleep(0.2)
        received: list[dict[str, Any]] = []
        async with asyncio.timeout(5):
            while not received or received[-1].get("data", {}).get("n") != 19_999:
                received.append(json.loads(await reader.readline()))
        dropped = [m["data"]["count"] for m in received if m["event"] == "dropped"]
        numbers = [m["data"]["n"] for m in received if m["event"] == "logs"]
        assert sum(dropped) + len(numbers) == 20_000  # every event either arrived or was counted
        assert numbers == sorted(numbers) and numbers[-100:] == list(range(19_900, 20_000))
        writer.close()
    finally:
        await server.close()


async def test_the_socket_is_0660_and_other_users_are_refused() -> None:
    # Not under pytest's tmp_path: its parent is 0700, so another user could not reach any socket there.
    with tempfile.TemporaryDirectory(prefix="quranbot-peer-") as tmp:
        os.chmod(tmp, 0o755)
        await check_0660_and_peers(Path(tmp) / "c.sock")


async def check_0660_and_peers(path: Path) -> None:
    path.write_text("stale")  # left by a crash: replaced
    server = ControlServer(path, Echo())
    await server.start()
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o660 and stat.S_ISSOCK(path.stat().st_mode)
        assert (
            await asyncio.to_thread(child_connects_as_nobody, path) == "PermissionError"
        )  # 0660: nobody cannot even connect
        os.chmod(path, 0o666)  # a mistaken chmod: SO_PEERCRED still refuses
        assert await asyncio.to_thread(child_connects_as_nobody, path) == "forbidden"
    finally:
        await server.close()
    assert not path.exists()


def child_connects_as_nobody(path: Path) -> str:
    """Fork, drop to uid/gid 65534 (nobody), connect, and report the first line's error code.

    Called in a thread: the server answering the child runs on the test's event loop. (A subprocess
    cannot do it: the venv's interpreter lives under /root, which nobody may enter.)"""
    if os.geteuid() != 0:
        pytest.fail("this test drops privileges for real and needs root (CI runs as root)")

    def connect() -> str:
        import socket

        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(str(path))
                return str(json.loads(sock.makefile().readline())["error"]["code"])
        except PermissionError:
            return "PermissionError"

    return as_nobody(connect)


async def test_a_socket_path_longer_than_sun_path_works(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    path = deep / "control.sock"
    assert len(str(path)) > SUN_PATH_MAX
    server = ControlServer(path, Echo())
    await server.start()
    try:
        client = await ControlClient.connect(path)
        assert await client.call("status") == {"method": "status"}
        await client.close()
    finally:
        await server.close()


async def test_no_bot_means_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BotNotRunning, match="not running"):
        await ControlClient.connect(tmp_path / "missing.sock")
