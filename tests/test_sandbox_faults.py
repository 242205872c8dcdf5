"""Every fault the sandbox can inject, observed through the real discord.py client (or, where discord.py
cannot show it, through a raw client speaking the documented protocol).

Where discord.py's reaction is not what one might guess, the test asserts what discord.py 2.7.1 really
does and says which of its lines decide it.
"""

from __future__ import annotations

import asyncio
import json
import select
import time
from pathlib import Path

import aiohttp
import discord
import pytest
from sandbox_client import (
    DiscordPySender,
    make_client,
    play,
    running_client,
    stop_client,
    wait_ready,
    wait_until,
    within,
)

from quranbot.audio.tone import write_tone
from quranbot.sandbox.server import Sandbox
from quranbot.sandbox.voice_udp import XCHACHA

#: discord.py's voice `timeout`: how long it waits for each voice handshake step and for a reconnect.
VOICE_TIMEOUT = 2.0
OPUS_SILENCE = b"\xf8\xff\xfe"


@pytest.fixture(scope="module")
def long_tone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Long enough to outlast any fault test; each test stops playing (by closing) when it has seen enough."""
    return write_tone(tmp_path_factory.mktemp("audio") / "tone-440-long.ogg", 440.0, 12.0)


@pytest.fixture(scope="module")
def tone_660(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tone(tmp_path_factory.mktemp("audio") / "tone-660.ogg", 660.0, 12.0)


def bot_voice_connection(sandbox: Sandbox):
    default = sandbox.default
    return sandbox.voice.connection_for(default.guild.id, default.bot.user.id)


async def connect_and_play(
    client: discord.Client, sandbox: Sandbox, tone: Path, packets: int = 10
) -> discord.VoiceClient:
    """Join the Quran channel, start the tone, and wait until the channel has heard `packets` packets."""
    channel = client.get_channel(sandbox.default.voice.id)
    voice = await channel.connect(timeout=VOICE_TIMEOUT)
    play(voice, tone)
    listener = sandbox.listener(sandbox.default.voice)
    await listener.wait_for_packets(listener.packets + packets)
    return voice


async def settle_socket_reader(sandbox: Sandbox, voice: discord.VoiceClient) -> None:
    """Let discord.py's UDP reader thread go idle, as server-to-client traffic would make it.

    discord.py's SocketReader (voice_state.py, `_do_run`) often re-enters `select([socket], 30)` right after
    IP discovery, before the discovery callback is unregistered. If the socket is then replaced (a full
    reconnect closes it), the thread stays blocked on the closed socket for up to 30 s and the next IP
    discovery goes unread. On Discord the voice server's own packets (RTCP, other speakers) wake it; the
    sandbox sends nothing unasked, so the test sends one datagram from the sandbox's UDP port (a connected
    UDP socket accepts no other source) and waits until the reader consumed it, or until the reader is
    paused (no callbacks left): a paused reader waits on an event rather than the socket, and its next resume
    selects on whatever socket is current, so it cannot be stranded.
    """
    bot_socket = voice._connection.socket
    reader = voice._connection._socket_reader
    assert sandbox.voice.udp.running
    sandbox.voice.udp.sendto(b"\x81\xc9\x00\x01" + bytes(4), bot_socket.getsockname())  # an empty RTCP report
    await wait_until(lambda: not reader._running.is_set() or not select.select([bot_socket], [], [], 0)[0])


# -- gateway ---------------------------------------------------------------------------------------------


async def test_dropped_gateway_resumes_and_replays_missed_events(sandbox: Sandbox) -> None:
    default = sandbox.default
    client = make_client(sandbox)
    seen: list[str] = []

    @client.event
    async def on_message(message: discord.Message) -> None:
        seen.append(message.content)

    async with running_client(sandbox, client):
        session_id = client.ws.session_id
        session = sandbox.gateway.sessions[session_id]
        resumed = asyncio.ensure_future(client.wait_for("resumed"))
        missed = asyncio.ensure_future(client.wait_for("message", check=lambda m: m.content == "missed"))

        assert await sandbox.faults.drop_gateway() == 1
        assert session.connection is None or session.connection.closed  # the socket really is down
        await sandbox.say(default.admin, default.general, "missed")

        await within(resumed)
        await within(missed)
        assert sandbox.gateway.resumes == 1
        assert sandbox.gateway.connections == 2
        assert client.ws.session_id == session_id
        assert list(sandbox.gateway.sessions) == [session_id]

        after = asyncio.ensure_future(client.wait_for("message", check=lambda m: m.content == "after"))
        await sandbox.say(default.admin, default.general, "after")
        await within(after)
        assert seen == ["missed", "after"]  # replayed exactly once, then live again


async def test_rejected_token_ends_the_client_with_4004(sandbox: Sandbox) -> None:
    client = make_client(sandbox)
    task = asyncio.create_task(client.start(sandbox.token))
    try:
        await sandbox.wait_for_ready()
        await wait_ready(client, task)
        assert await sandbox.faults.reject_token() == 1
        # 4004 is not in DiscordWebSocket._can_handle_close (gateway.py), so Client.connect closes the
        # client and re-raises ConnectionClosed instead of reconnecting.
        with pytest.raises(discord.ConnectionClosed) as closed:
            await within(task)
        assert closed.value.code == 4004
        assert client.is_closed()
        assert sandbox.gateway.connections == 1  # no reconnect attempt
    finally:
        await stop_client(client, task)


async def test_invalid_session_makes_the_client_identify_again(sandbox: Sandbox) -> None:
    async with running_client(sandbox) as client:
        old_session = client.ws.session_id
        ready_again = asyncio.ensure_future(client.wait_for("ready"))
        started = time.perf_counter()
        await sandbox.faults.invalidate_session(resumable=False)
        await within(ready_again, 10)
        # Client.before_identify_hook sleeps 5 s before every IDENTIFY but the first (client.py).
        assert time.perf_counter() - started >= 5.0
        assert sandbox.gateway.connections == 2
        new_session = client.ws.session_id
        assert new_session != old_session
        assert list(sandbox.gateway.sessions) == [new_session]
        assert sandbox.gateway.resumes == 0
        assert [g.name for g in client.guilds] == ["Sandbox Guild"]


async def test_reconnect_request_resumes(sandbox: Sandbox) -> None:
    async with running_client(sandbox) as client:
        session_id = client.ws.session_id
        resumed = asyncio.ensure_future(client.wait_for("resumed"))
        await sandbox.faults.request_reconnect()
        await within(resumed)
        assert sandbox.gateway.resumes == 1
        assert client.ws.session_id == session_id


# -- voice close codes -------------------------------------------------------------------------------------


async def test_voice_close_4015_a_documented_resume_keeps_the_session(sandbox: Sandbox) -> None:
    """The 4015 flow as Discord documents it (op 7 RESUME, op 9 RESUMED), with a raw voice client."""
    default = sandbox.default
    grant = sandbox.voice.grant(default.guild.id, default.bot.user.id, default.voice.id, "raw-session")
    listener = sandbox.listener(default.voice)
    url = "wss://sandbox.discord.media/?v=8"

    async def receive(socket: aiohttp.ClientWebSocketResponse) -> dict:
        message = await socket.receive(timeout=5.0)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        return json.loads(message.data)

    async def send(socket: aiohttp.ClientWebSocketResponse, op: int, data: object) -> None:
        await socket.send_str(json.dumps({"op": op, "d": data}))

    loop = asyncio.get_running_loop()
    udp, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    try:
        async with aiohttp.ClientSession(connector=sandbox.connector()) as http:
            identity = {
                "server_id": str(default.guild.id),
                "user_id": str(default.bot.user.id),
                "session_id": "raw-session",
                "token": grant.token,
            }
            async with http.ws_connect(url) as socket:
                assert (await receive(socket))["op"] == 8
                await send(socket, 0, identity)
                ready = (await receive(socket))["d"]
                host, port = udp.get_extra_info("sockname")
                protocol = {"address": host, "port": port, "mode": XCHACHA}
                await send(socket, 1, {"protocol": "udp", "data": protocol})
                description = await receive(socket)
                assert description["op"] == 4 and description["d"]["mode"] == XCHACHA
                sender = DiscordPySender(bytes(description["d"]["secret_key"]), ssrc=ready["ssrc"])
                for _ in range(5):
                    udp.sendto(sender.packet(OPUS_SILENCE), (ready["ip"], ready["port"]))
                await listener.wait_for_packets(5)

                assert await sandbox.faults.close_voice(default.guild, 4015)
                await socket.receive(timeout=5.0)
                assert socket.close_code == 4015

            async with http.ws_connect(url) as socket:
                await receive(socket)
                await send(socket, 7, {**identity, "seq_ack": 2})
                assert (await receive(socket))["op"] == 9  # RESUMED
                for _ in range(5):
                    udp.sendto(sender.packet(OPUS_SILENCE), (ready["ip"], ready["port"]))
                await listener.wait_for_packets(10)  # same SSRC, same key: still heard
                assert bot_voice_connection(sandbox).ssrc == ready["ssrc"]

            async with http.ws_connect(url) as socket:
                await receive(socket)
                await send(socket, 7, {**identity, "token": "wrong"})
                await socket.receive(timeout=5.0)
                assert socket.close_code == 4006
    finally:
        udp.close()
    assert listener.lost_packets == 0 and sandbox.voice.rejected_packets == 0


async def test_voice_close_4015_with_discordpy(sandbox: Sandbox, long_tone: Path) -> None:
    """discord.py 2.7.1 handles 4015 with `_connect(resume=True)` (voice_state.py `_poll_voice_ws`), which
    first re-sends op 4 for the channel it is in (`_inner_connect` -> `_voice_connect`) and waits for both
    voice updates. The sandbox answers VOICE_STATE_UPDATE then VOICE_SERVER_UPDATE; in state `connected`
    discord.py only notes the channel for the first (`voice_state_update`) and moves to
    `got_voice_server_update` for the second, so `got_both_voice_updates` never comes: the resume times
    out after `timeout` and discord.py leaves voice ("Could not resume the voice connection")."""
    default = sandbox.default
    async with running_client(sandbox) as client:
        voice = await connect_and_play(client, sandbox, long_tone)
        session = sandbox.gateway.session_of(default.application)
        assert session is not None
        server_updates = sum('"VOICE_SERVER_UPDATE"' in text for _, text in session.backlog)

        assert await sandbox.faults.close_voice(default.guild, 4015)
        guild = client.get_guild(default.guild.id)
        await wait_until(lambda: guild.voice_client is None, timeout=VOICE_TIMEOUT + 3)
        assert not voice.is_connected()
        assert sandbox.in_voice(default.guild, default.bot.user.id) is None
        assert bot_voice_connection(sandbox) is None
        # It did ask again: one more VOICE_SERVER_UPDATE came back for the same channel.
        assert sum('"VOICE_SERVER_UPDATE"' in text for _, text in session.backlog) == server_updates + 1


async def test_voice_close_4006_reconnects_with_a_new_identify(sandbox: Sandbox, long_tone: Path) -> None:
    default = sandbox.default
    listener = sandbox.listener(default.voice)
    async with running_client(sandbox) as client:
        voice = await connect_and_play(client, sandbox, long_tone)
        old_ssrc = voice.ssrc
        old_connection = bot_voice_connection(sandbox)
        await settle_socket_reader(sandbox, voice)

        assert await sandbox.faults.close_voice(default.guild, 4006)
        assert bot_voice_connection(sandbox) is None  # the sandbox forgot the session

        # discord.py: "Not handling close code 4006" -> backoff (< 2 s) -> leave and join again.
        await wait_until(
            lambda: (c := bot_voice_connection(sandbox)) is not None and c.ssrc == voice.ssrc,
            timeout=VOICE_TIMEOUT + 4,
        )
        await wait_until(voice.is_connected, timeout=VOICE_TIMEOUT)
        new_connection = bot_voice_connection(sandbox)
        assert voice.ssrc != old_ssrc
        assert new_connection is not old_connection
        heard = listener.packets
        await listener.wait_for_packets(heard + 10, timeout=VOICE_TIMEOUT)  # only the new SSRC is heard now
        assert sandbox.in_voice(default.guild, default.bot.user.id) == default.voice.id


@pytest.mark.parametrize("code", [4014, 4022])
async def test_voice_close_4014_4022_without_a_state_change(
    sandbox: Sandbox, long_tone: Path, code: int
) -> None:
    """voice_state.py `_poll_voice_ws`: 4014/4022 while `_disconnected` is not set -> `_potential_reconnect`,
    which waits `timeout` for a VOICE_SERVER_UPDATE that never comes (nobody moved the bot), returns False,
    and discord.py disconnects. Meanwhile its player thread goes on sending, but the session is over, as
    on Discord: nobody hears it."""
    default = sandbox.default
    listener = sandbox.listener(default.voice)
    async with running_client(sandbox) as client:
        voice = await connect_and_play(client, sandbox, long_tone)
        guild = client.get_guild(default.guild.id)
        closed_at = time.perf_counter()
        assert await sandbox.faults.close_voice(default.guild, code)

        await asyncio.sleep(0.2)  # packets already on their way
        heard, rejected = listener.packets, sandbox.voice.rejected_packets
        await asyncio.sleep(1.0)
        assert listener.packets == heard  # sent (discord.py still thinks it is connected), not heard
        assert sandbox.voice.rejected_packets > rejected + 25
        assert guild.voice_client is voice
        await wait_until(lambda: guild.voice_client is None, timeout=VOICE_TIMEOUT + 3)
        assert time.perf_counter() - closed_at >= VOICE_TIMEOUT - 0.2
        assert not voice.is_connected()
        await sandbox.wait_for_voice(default.guild, default.bot.user.id, None)
        assert bot_voice_connection(sandbox) is None


async def test_kicked_from_voice(sandbox: Sandbox, long_tone: Path) -> None:
    default = sandbox.default
    async with running_client(sandbox) as client:
        voice = await connect_and_play(client, sandbox, long_tone)
        guild = client.get_guild(default.guild.id)
        await sandbox.faults.kick_from_voice(default.guild)
        await wait_until(lambda: guild.voice_client is None)
        assert not voice.is_connected()
        assert sandbox.in_voice(default.guild, default.bot.user.id) is None
        assert bot_voice_connection(sandbox) is None


async def test_moved_to_another_channel(sandbox: Sandbox, long_tone: Path, tone_660: Path) -> None:
    default = sandbox.default
    lounge = sandbox.listener(default.lounge)
    async with running_client(sandbox) as client:
        voice = await connect_and_play(client, sandbox, long_tone)
        old_ssrc = voice.ssrc
        await sandbox.faults.move_voice(default.guild, default.lounge.id)

        await wait_until(lambda: voice.channel is not None and voice.channel.id == default.lounge.id)
        await wait_until(lambda: voice.is_connected() and voice.ssrc != old_ssrc, timeout=VOICE_TIMEOUT + 2)
        assert sandbox.in_voice(default.guild, default.bot.user.id) == default.lounge.id
        assert bot_voice_connection(sandbox).grant.channel_id == default.lounge.id

        voice.stop()
        play(voice, tone_660)
        heard = lounge.packets
        await lounge.wait_for_packets(heard + 60)
        stats = lounge.stats(tone_seconds=1.0)
        assert stats.dominant_hz is not None and abs(stats.dominant_hz - 660.0) <= 2.0, stats.summary()


# -- voice UDP -------------------------------------------------------------------------------------------


async def test_unanswered_ip_discovery_then_recovery(sandbox: Sandbox, long_tone: Path) -> None:
    default = sandbox.default
    async with running_client(sandbox) as client:
        channel = client.get_channel(default.voice.id)
        sandbox.faults.stop_udp()
        with pytest.raises(asyncio.TimeoutError):
            await channel.connect(timeout=VOICE_TIMEOUT, reconnect=False)
        assert sandbox.voice.udp.ignored >= 1  # the discovery request arrived and was ignored
        guild = client.get_guild(default.guild.id)
        assert guild.voice_client is None
        await sandbox.wait_for_voice(default.guild, default.bot.user.id, None)

        sandbox.faults.resume_udp()
        voice = await channel.connect(timeout=VOICE_TIMEOUT, reconnect=False)
        assert voice.is_connected()
        play(voice, long_tone)
        await sandbox.listener(default.voice).wait_for_packets(10)


async def test_udp_blackout_while_playing(sandbox: Sandbox, long_tone: Path) -> None:
    default = sandbox.default
    listener = sandbox.listener(default.voice)
    async with running_client(sandbox) as client:
        voice = await connect_and_play(client, sandbox, long_tone)
        sandbox.faults.stop_udp()
        heard, ignored = listener.packets, sandbox.voice.udp.ignored
        await wait_until(lambda: sandbox.voice.udp.ignored >= ignored + 15)
        assert listener.packets == heard  # nothing heard while UDP is down
        assert voice.is_connected()  # discord.py cannot tell: UDP has no acknowledgements

        sandbox.faults.resume_udp()
        await listener.wait_for_packets(heard + 10)
        assert listener.lost_packets >= 15  # the blackout shows up as a sequence gap
        assert listener.stats().stalls >= 1


# -- REST -----------------------------------------------------------------------------------------------


def message_posts(sandbox: Sandbox) -> list[int]:
    return [status for method, route, status in sandbox.rest.requests if (method, route) == MESSAGES]


MESSAGES = ("POST", "/channels/{channel_id}/messages")


async def test_rate_limited_send_waits_and_succeeds(sandbox: Sandbox) -> None:
    default = sandbox.default
    async with running_client(sandbox) as client:
        channel = client.get_channel(default.general.id)
        fault = sandbox.faults.fail_rest(*MESSAGES, 429, retry_after=0.3)
        started = time.perf_counter()
        await channel.send("after the rate limit")
        assert time.perf_counter() - started >= 0.25
        assert message_posts(sandbox) == [429, 200]
        assert fault.times == 0
        assert [m.content for m in sandbox.messages(default.general)] == ["after the rate limit"]


async def test_server_error_500_is_retried(sandbox: Sandbox) -> None:
    default = sandbox.default
    async with running_client(sandbox) as client:
        sandbox.faults.fail_rest(*MESSAGES, 500, times=1)
        message = await client.get_channel(default.general.id).send("after a 500")
        assert message.content == "after a 500"
        assert message_posts(sandbox) == [500, 200]


async def test_server_error_503_is_not_retried(sandbox: Sandbox) -> None:
    """http.py retries only 500, 502, 504 and 524; any other 5xx raises DiscordServerError at once."""
    default = sandbox.default
    async with running_client(sandbox) as client:
        fault = sandbox.faults.fail_rest(*MESSAGES, 503, times=10)
        with pytest.raises(discord.DiscordServerError) as failed:
            await client.get_channel(default.general.id).send("never")
        assert failed.value.status == 503
        assert message_posts(sandbox) == [503]
        assert fault.times == 9
        assert sandbox.messages(default.general) == []
