"""The sandbox speaks Discord's wire protocol well enough for the real, unmodified discord.py.

Every test here drives the real stack end to end: discord.py over TLS to the sandbox's REST API and
gateway, its voice gateway and voice UDP, and libopus decoding what the voice channel heard.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
import time
import wave
import zlib
from pathlib import Path

import aiohttp
import discord
import nacl.secret
import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from discord import app_commands
from sandbox_client import DiscordPySender, make_client, play, running_client, wait_until, within

from quranbot.audio.tone import write_tone
from quranbot.sandbox.server import Sandbox
from quranbot.sandbox.voice_udp import (
    AES_GCM,
    DISCOVERY_LENGTH,
    XCHACHA,
    PacketError,
    VoiceUdpEndpoint,
    decrypt_rtp,
    discovery_response,
    is_discovery_request,
)

API = "https://discord.com/api/v10"
GATEWAY = "wss://gateway.discord.gg/?v=10&encoding=json&compress=zlib-stream"
ZLIB_SUFFIX = b"\x00\x00\xff\xff"


def members_intents() -> discord.Intents:
    intents = discord.Intents.default()
    intents.members = True
    return intents


# -- login, READY, GUILD_CREATE, REST basics ------------------------------------------------------------


def url_recorder() -> tuple[aiohttp.TraceConfig, list[str]]:
    """An aiohttp trace (discord.py's `http_trace` option) that lists every URL the client opens."""
    urls: list[str] = []
    trace = aiohttp.TraceConfig()

    async def on_request_start(session, context, params: aiohttp.TraceRequestStartParams) -> None:
        urls.append(str(params.url))

    trace.on_request_start.append(on_request_start)
    return trace, urls


async def test_login_ready_and_guild_create(sandbox: Sandbox) -> None:
    trace, urls = url_recorder()
    client = make_client(sandbox, members_intents(), http_trace=trace)
    ready_fired = asyncio.Event()

    @client.event
    async def on_ready() -> None:
        ready_fired.set()

    async with running_client(sandbox, client):
        await within(ready_fired.wait())
        default = sandbox.default
        assert client.user is not None and client.user.id == default.bot.user.id
        assert [g.name for g in client.guilds] == ["Sandbox Guild"]
        guild = client.guilds[0]
        assert guild.id == default.guild.id
        assert guild.owner_id == default.admin.user.id
        text = {c.name: c.id for c in guild.text_channels}
        voice = {c.name: c.id for c in guild.voice_channels}
        assert text == {"general": default.general.id, "quran-panel": default.panel.id}
        assert voice == {"Quran": default.voice.id, "Lounge": default.lounge.id}
        assert {r.name for r in guild.roles} == {"@everyone", "Admin", "Quran Controller", "QuranBot"}
        assert guild.get_role(default.admin_role.id).permissions.administrator
        assert {m.name for m in guild.members} == {"admin", "listener", "QuranBot"}
        me = guild.me
        assert me.guild_permissions.manage_roles and me.guild_permissions.connect
        assert not me.guild_permissions.administrator
        assert guild.get_member(default.admin.user.id).guild_permissions.administrator

    # discord.py asked for zlib-stream (the raw gateway test checks the sandbox then compresses).
    assert f"{API}/users/@me" in urls
    assert "wss://gateway.discord.gg/?v=10&encoding=json&compress=zlib-stream" in urls


async def test_rest_content_type_404_and_401(sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession(connector=sandbox.connector()) as http:
        headers = {"Authorization": f"Bot {sandbox.token}"}
        async with http.get(f"{API}/users/@me", headers=headers) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "application/json"
            body = await response.json()
        assert body["id"] == str(sandbox.default.bot.user.id)
        assert body["bot"] is True

        async with http.get(f"{API}/no/such/route", headers=headers) as response:
            assert response.status == 404
            assert response.headers["Content-Type"] == "application/json"
            assert await response.json() == {"message": "404: Not Found", "code": 0}

        async with http.get(f"{API}/users/@me", headers={"Authorization": "Bot wrong"}) as response:
            assert response.status == 401
            assert response.headers["Content-Type"] == "application/json"
            assert (await response.json())["code"] == 0

    client = make_client(sandbox)
    try:
        with pytest.raises(discord.LoginFailure):
            await client.login("bad")
    finally:
        await client.close()
    assert ("GET", "/users/@me", 401) in sandbox.rest.requests


# -- application commands -----------------------------------------------------------------------------


def command_client(sandbox: Sandbox) -> tuple[discord.Client, app_commands.CommandTree, dict]:
    """A client with a command tree: /ping, /secret, /info (options), /surah (autocomplete), /slow
    (defer, follow-up, edit), /twice (a second response) and the guild-only /here."""
    client = make_client(sandbox)
    tree = app_commands.CommandTree(client)
    seen: dict = {"done": asyncio.Event()}

    @tree.command(description="Answers pong")
    async def ping(interaction: discord.Interaction) -> None:
        seen["ping_user"] = interaction.user.id
        await interaction.response.send_message("pong")

    @tree.command(description="Answers only the caller")
    async def secret(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("for your eyes only", ephemeral=True)

    @tree.command(description="Echoes its options")
    async def info(
        interaction: discord.Interaction,
        text: str,
        count: int,
        who: discord.Member,
        where: discord.TextChannel,
        role: discord.Role,
    ) -> None:
        seen["info"] = (text, count, who, where, role)
        await interaction.response.send_message(f"{text}x{count}")

    async def surah_names(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        names = ["Al-Fatiha", "Al-Baqara", "Al-Imran", "Yasin"]
        return [app_commands.Choice(name=n, value=n.lower()) for n in names if n.startswith(current)]

    @tree.command(description="Picks a surah")
    @app_commands.autocomplete(name=surah_names)
    async def surah(interaction: discord.Interaction, name: str) -> None:
        await interaction.response.send_message(name)

    @tree.command(description="Thinks, then answers")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        seen["followup"] = await interaction.followup.send("halfway", wait=True)
        seen["edited"] = await interaction.edit_original_response(content="done")
        seen["done"].set()

    @tree.command(description="Tries to answer twice")
    async def twice(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("first")
        try:
            with pytest.raises(discord.InteractionResponded):
                await interaction.response.send_message("again")  # discord.py refuses by itself
            # A fresh response object makes discord.py really ask the API a second time.
            with pytest.raises(discord.HTTPException) as refused:
                await discord.InteractionResponse(interaction).send_message("second")
            seen["second"] = (refused.value.status, refused.value.code)
        finally:
            seen["done"].set()

    @tree.command(description="Only in the sandbox guild", guild=discord.Object(sandbox.default.guild.id))
    async def here(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"here in {interaction.guild_id}")

    return client, tree, seen


async def test_command_sync_and_ping(sandbox: Sandbox) -> None:
    default = sandbox.default
    client, tree, seen = command_client(sandbox)
    async with running_client(sandbox, client):
        synced = await tree.sync()
        synced_guild = await tree.sync(guild=discord.Object(default.guild.id))

        stored = {c["name"]: c for c in default.application.global_commands}
        assert set(stored) == {"ping", "secret", "info", "surah", "slow", "twice"}
        assert {c.name: c.id for c in synced} == {n: int(c["id"]) for n, c in stored.items()}
        assert [c["name"] for c in default.application.guild_commands[default.guild.id]] == ["here"]
        assert synced_guild[0].id == int(default.application.guild_commands[default.guild.id][0]["id"])
        assert synced_guild[0].guild_id == default.guild.id
        option_types = {o["name"]: o["type"] for o in stored["info"]["options"]}
        assert option_types == {"text": 3, "count": 4, "who": 6, "where": 7, "role": 8}

        # Re-syncing keeps the ids, as Discord does for an unchanged command.
        again = await tree.sync()
        assert {c.id for c in again} == {c.id for c in synced}

        record = await sandbox.run_command(default.admin, default.general, "ping")
        response = await record.wait()
        assert response["type"] == 4
        assert response["data"]["content"] == "pong"
        assert seen["ping_user"] == default.admin.user.id
        message = sandbox.messages(default.general)[-1]
        assert message.content == "pong"
        assert message.payload["type"] == 20  # a reply to a chat input command
        assert message.payload["interaction_metadata"]["user"]["id"] == str(default.admin.user.id)

        record = await sandbox.run_command(default.listener, default.panel, "here")
        assert (await record.wait())["data"]["content"] == f"here in {default.guild.id}"


async def test_ephemeral_reply_is_not_dispatched(sandbox: Sandbox) -> None:
    default = sandbox.default
    client, tree, _ = command_client(sandbox)
    received: list[str] = []

    @client.event
    async def on_message(message: discord.Message) -> None:
        received.append(message.content)

    async with running_client(sandbox, client):
        await tree.sync()
        record = await sandbox.run_command(default.listener, default.general, "secret")
        response = await record.wait()
        assert response["type"] == 4
        assert response["data"]["flags"] & 64
        stored = record.original
        assert stored is not None and stored.ephemeral
        assert stored in sandbox.messages(default.general)
        assert stored not in sandbox.messages(default.general, include_ephemeral=False)

        # Events arrive in order: once this marker is in, an ephemeral MESSAGE_CREATE would have been too.
        marker = asyncio.ensure_future(client.wait_for("message", check=lambda m: m.content == "marker"))
        await sandbox.say(default.admin, default.general, "marker")
        await within(marker)
        assert received == ["marker"]
        session = sandbox.gateway.session_of(default.application)
        assert session is not None
        assert not any(str(stored.id) in text for _, text in session.backlog)


async def test_command_options_are_resolved(sandbox: Sandbox) -> None:
    default = sandbox.default
    client, tree, seen = command_client(sandbox)
    async with running_client(sandbox, client):
        await tree.sync()
        record = await sandbox.run_command(
            default.admin,
            default.general,
            "info",
            text="hello",
            count=3,
            who=default.listener.user.id,
            where=default.panel.id,
            role=default.controller_role.id,
        )
        assert (await record.wait())["data"]["content"] == "hellox3"
        text, count, who, where, role = seen["info"]
        assert (text, count) == ("hello", 3)
        assert isinstance(who, discord.Member) and who.id == default.listener.user.id
        assert who.name == "listener"
        assert isinstance(where, discord.TextChannel) and where.id == default.panel.id
        assert where.name == "quran-panel"
        assert isinstance(role, discord.Role) and role.id == default.controller_role.id
        assert role.name == "Quran Controller"


async def test_autocomplete_choices(sandbox: Sandbox) -> None:
    default = sandbox.default
    client, tree, _ = command_client(sandbox)
    async with running_client(sandbox, client):
        await tree.sync()
        record = await sandbox.autocomplete(default.listener, default.general, "surah", "name", name="Al-")
        response = await record.wait()
        assert response["type"] == 8
        assert record.choices == [
            {"name": "Al-Fatiha", "value": "al-fatiha"},
            {"name": "Al-Baqara", "value": "al-baqara"},
            {"name": "Al-Imran", "value": "al-imran"},
        ]
        record = await sandbox.autocomplete(default.listener, default.general, "surah", "name", name="Y")
        await record.wait()
        assert record.choices == [{"name": "Yasin", "value": "yasin"}]
        assert record.original is None  # autocomplete answers post nothing
        assert sandbox.messages(default.general) == []


async def test_defer_followup_and_edit_original(sandbox: Sandbox) -> None:
    default = sandbox.default
    client, tree, seen = command_client(sandbox)
    async with running_client(sandbox, client):
        await tree.sync()
        record = await sandbox.run_command(default.admin, default.general, "slow")
        response = await record.wait()
        assert response["type"] == 5
        await within(seen["done"].wait())

        original = record.original
        assert original is not None
        assert original.payload["flags"] & 128 == 0  # no longer "thinking…"
        assert original.history[0]["flags"] & 128  # it was while deferred
        assert original.content == "done"
        assert seen["edited"].id == original.id and seen["edited"].content == "done"

        assert [m.content for m in record.followups] == ["halfway"]
        assert seen["followup"].id == record.followups[0].id
        assert [m.content for m in sandbox.messages(default.general)] == ["done", "halfway"]


async def test_second_response_to_an_interaction_fails(sandbox: Sandbox) -> None:
    default = sandbox.default
    client, tree, seen = command_client(sandbox)
    async with running_client(sandbox, client):
        await tree.sync()
        record = await sandbox.run_command(default.admin, default.general, "twice")
        assert (await record.wait())["data"]["content"] == "first"
        await within(seen["done"].wait())
        assert seen["second"] == (400, 40060)
        assert [m.content for m in sandbox.messages(default.general)] == ["first"]
        callbacks = [r for r in sandbox.rest.requests if r[1].endswith("/callback")]
        assert [status for *_, status in callbacks] == [200, 400]  # discord.py asks with_response=true


# -- components and modals ------------------------------------------------------------------------------


class Answer(discord.ui.Modal, title="Your answer"):
    answer = discord.ui.TextInput(label="Answer", custom_id="answer")

    def __init__(self, submitted: asyncio.Future) -> None:
        super().__init__()
        self.submitted = submitted

    async def on_submit(self, interaction: discord.Interaction) -> None:
        self.submitted.set_result((interaction.user.id, self.answer.value))
        await interaction.response.send_message(f"thanks for {self.answer.value}")


class Panel(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.pressed_by: list[int] = []
        self.picked: list[list[str]] = []
        self.submitted: asyncio.Future = asyncio.get_running_loop().create_future()

    @discord.ui.button(label="Press", custom_id="press")
    async def press(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.pressed_by.append(interaction.user.id)
        await interaction.response.edit_message(content="pressed")

    @discord.ui.select(
        custom_id="pick",
        options=[discord.SelectOption(label=x.upper(), value=x) for x in ("a", "b", "c")],
        max_values=2,
    )
    async def pick(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        self.picked.append(list(select.values))
        await interaction.response.send_message(f"picked {','.join(select.values)}")

    @discord.ui.button(label="Answer", custom_id="open")
    async def open(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.send_modal(Answer(self.submitted))


async def test_buttons_selects_and_update_message(sandbox: Sandbox) -> None:
    default = sandbox.default
    async with running_client(sandbox) as client:
        view = Panel()
        sent = await client.get_channel(default.panel.id).send("panel", view=view)
        stored = sandbox.world.messages[sent.id]
        assert {c["custom_id"] for row in stored.components for c in row["components"]} == {
            "press",
            "pick",
            "open",
        }

        edited = asyncio.ensure_future(client.wait_for("message_edit"))
        record = await sandbox.press(default.listener, stored, "press")
        response = await record.wait()
        assert response["type"] == 7
        assert view.pressed_by == [default.listener.user.id]
        assert stored.content == "pressed"
        assert [old["content"] for old in stored.history] == ["panel"]
        before, after = await within(edited)
        assert (before.content, after.content) == ("panel", "pressed")

        record = await sandbox.select(default.admin, stored, "pick", ["b", "c"])
        assert (await record.wait())["data"]["content"] == "picked b,c"
        assert view.picked == [["b", "c"]]
        assert record.original is not None and record.original.content == "picked b,c"


async def test_modal_round_trip(sandbox: Sandbox) -> None:
    default = sandbox.default
    async with running_client(sandbox) as client:
        view = Panel()
        sent = await client.get_channel(default.panel.id).send("panel", view=view)
        opened = await sandbox.press(default.admin, sandbox.world.messages[sent.id], "open")
        response = await opened.wait()
        assert response["type"] == 9
        assert response["data"]["title"] == "Your answer"

        submitted = await sandbox.submit_modal(default.admin, opened, {"answer": "Al-Kahf"})
        assert (await submitted.wait())["data"]["content"] == "thanks for Al-Kahf"
        assert await within(view.submitted) == (default.admin.user.id, "Al-Kahf")


# -- channel messages, reactions, roles -------------------------------------------------------------------


async def test_send_edit_react_fetch_delete(sandbox: Sandbox) -> None:
    default = sandbox.default
    async with running_client(sandbox) as client:
        channel = client.get_channel(default.general.id)
        created = asyncio.ensure_future(client.wait_for("message"))
        message = await channel.send("hello", embed=discord.Embed(title="Al-Fatiha"))
        assert (await within(created)).id == message.id
        stored = sandbox.world.messages[message.id]
        assert stored.content == "hello" and stored.embeds[0]["title"] == "Al-Fatiha"
        assert message.author.id == default.bot.user.id

        edited = await message.edit(content="edited")
        assert edited.content == "edited" and edited.edited_at is not None
        assert [old["content"] for old in stored.history] == ["hello"]
        fetched = await channel.fetch_message(message.id)
        assert fetched.content == "edited" and fetched.embeds[0].title == "Al-Fatiha"

        reacted = asyncio.ensure_future(client.wait_for("raw_reaction_add"))
        await message.add_reaction("👍")
        payload = await within(reacted)
        assert str(payload.emoji) == "👍" and payload.user_id == default.bot.user.id
        assert stored.reactions == {"👍": {default.bot.user.id}}

        history = [m.content async for m in channel.history(limit=10)]
        assert history == ["edited"]

        deleted = asyncio.ensure_future(client.wait_for("raw_message_delete"))
        await message.delete()
        assert (await within(deleted)).message_id == message.id
        with pytest.raises(discord.NotFound) as missing:
            await channel.fetch_message(message.id)
        assert missing.value.code == 10008
        assert sandbox.messages(default.general) == []


async def test_roles_reach_the_client_with_the_members_intent(sandbox: Sandbox) -> None:
    default = sandbox.default
    async with running_client(sandbox, intents=members_intents()) as client:
        guild = client.get_guild(default.guild.id)
        member = guild.get_member(default.listener.user.id)
        role = guild.get_role(default.controller_role.id)
        assert role not in member.roles

        updated = asyncio.ensure_future(client.wait_for("member_update"))
        await member.add_roles(role)
        before, after = await within(updated)
        assert role not in before.roles and role in after.roles
        assert default.controller_role.id in default.listener.roles

        updated = asyncio.ensure_future(client.wait_for("member_update"))
        await member.remove_roles(role)
        _, after = await within(updated)
        assert role not in after.roles
        assert default.controller_role.id not in default.listener.roles


async def test_member_updates_need_the_members_intent(sandbox: Sandbox) -> None:
    default = sandbox.default
    client = make_client(sandbox)  # Intents.default(): no members intent
    updates: list[discord.Member] = []

    @client.event
    async def on_member_update(before: discord.Member, after: discord.Member) -> None:
        updates.append(after)

    async with running_client(sandbox, client):
        guild = client.get_guild(default.guild.id)
        assert guild.get_member(default.listener.user.id) is None  # not cached without the intent
        member = await guild.fetch_member(default.listener.user.id)
        await member.add_roles(discord.Object(default.controller_role.id))
        assert default.controller_role.id in default.listener.roles

        marker = asyncio.ensure_future(client.wait_for("message", check=lambda m: m.content == "marker"))
        await sandbox.say(default.admin, default.general, "marker")
        await within(marker)
        assert updates == []
        session = sandbox.gateway.session_of(default.application)
        assert session is not None
        assert not any('"GUILD_MEMBER_UPDATE"' in text for _, text in session.backlog)


# -- the gateway on the wire -----------------------------------------------------------------------------


class RawGateway:
    """A raw zlib-stream gateway websocket, read the way discord.py reads it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.inflator = zlib.decompressobj()
        self.frame_types: list[aiohttp.WSMsgType] = []

    async def receive(self) -> dict:
        message = await self.ws.receive(timeout=5.0)
        self.frame_types.append(message.type)
        assert message.type == aiohttp.WSMsgType.BINARY, message
        assert message.data.endswith(ZLIB_SUFFIX)
        return json.loads(self.inflator.decompress(message.data))

    async def send(self, op: int, data: object) -> None:
        await self.ws.send_str(json.dumps({"op": op, "d": data}))


async def test_gateway_zlib_stream_heartbeat_and_bad_token(sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession(connector=sandbox.connector()) as http:
        async with http.ws_connect(GATEWAY) as ws:
            gateway = RawGateway(ws)
            hello = await gateway.receive()
            assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
            await gateway.send(1, None)
            assert (await gateway.receive())["op"] == 11
            await gateway.send(1, 42)
            assert (await gateway.receive()) == {"op": 11, "d": None}
            await gateway.send(2, {"token": "not-a-token", "intents": 0, "properties": {}})
            closing = await ws.receive(timeout=5.0)
            assert closing.type == aiohttp.WSMsgType.CLOSE
            assert ws.close_code == 4004
            assert set(gateway.frame_types) == {aiohttp.WSMsgType.BINARY}

        # Commands before IDENTIFY are refused with 4003.
        async with http.ws_connect(GATEWAY) as ws:
            await RawGateway(ws).receive()
            await ws.send_str(json.dumps({"op": 3, "d": {"status": "online"}}))
            await ws.receive(timeout=5.0)
            assert ws.close_code == 4003


async def test_gateway_identify_and_stale_resume(sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession(connector=sandbox.connector()) as http:
        async with http.ws_connect(GATEWAY) as ws:
            gateway = RawGateway(ws)
            await gateway.receive()
            await gateway.send(6, {"token": sandbox.token, "session_id": "stale", "seq": 3})
            assert await gateway.receive() == {"op": 9, "d": False}

            await gateway.send(2, {"token": sandbox.token, "intents": 513, "properties": {}})
            ready = await gateway.receive()
            assert (ready["op"], ready["t"], ready["s"]) == (0, "READY", 1)
            assert ready["d"]["user"]["id"] == str(sandbox.default.bot.user.id)
            guild_create = await gateway.receive()
            assert (guild_create["t"], guild_create["s"]) == ("GUILD_CREATE", 2)
            assert guild_create["d"]["name"] == "Sandbox Guild"
            session_id = ready["d"]["session_id"]
            assert session_id in sandbox.gateway.sessions

            await gateway.send(2, {"token": sandbox.token, "intents": 513, "properties": {}})
            await ws.receive(timeout=5.0)
            assert ws.close_code == 4005  # already authenticated

        # The session outlived its ws: a RESUME replays what was missed, then RESUMED.
        await sandbox.say(sandbox.default.admin, sandbox.default.general, "while away")
        async with http.ws_connect(GATEWAY) as ws:
            gateway = RawGateway(ws)
            await gateway.receive()
            await gateway.send(6, {"token": sandbox.token, "session_id": session_id, "seq": 2})
            replayed = await gateway.receive()
            assert (replayed["t"], replayed["s"]) == ("MESSAGE_CREATE", 3)
            assert replayed["d"]["content"] == "while away"
            resumed = await gateway.receive()
            assert (resumed["t"], resumed["s"]) == ("RESUMED", 4)
        assert sandbox.gateway.resumes == 1


# -- voice -----------------------------------------------------------------------------------------------


async def test_voice_plays_a_tone_that_the_channel_hears(sandbox: Sandbox, tone_440: Path, tmp_path) -> None:
    default = sandbox.default
    async with running_client(sandbox) as client:
        channel = client.get_channel(default.voice.id)
        voice = await channel.connect(timeout=5)
        assert voice.is_connected()
        assert sandbox.in_voice(default.guild, default.bot.user.id) == default.voice.id
        assert voice.mode == XCHACHA  # the best mode both sides support
        connection = sandbox.voice.connection_for(default.guild.id, default.bot.user.id)
        assert connection is not None and connection.ssrc == voice.ssrc
        assert connection.mode == XCHACHA and bytes(voice.secret_key) == connection.secret_key

        finished = play(voice, tone_440)
        await within(finished.wait(), 10)
        await wait_until(lambda: connection.speaking == 0)  # discord.py says "not speaking" at the end
        await voice.disconnect()
        await sandbox.wait_for_voice(default.guild, default.bot.user.id, None)

    listener = sandbox.listener(default.voice)
    stats = listener.stats()
    assert stats.packets >= 240, stats.summary()
    assert stats.lost_packets == 0 and stats.timestamp_jumps == 0, stats.summary()
    # discord.py's OggStream.iter_packets (oggparse.py) also sends the OpusHead and OpusTags header
    # packets as if they were audio; libopus rejects exactly those two.
    assert stats.decode_errors == 2, stats.summary()
    assert stats.median_gap_ms is not None and abs(stats.median_gap_ms - 20.0) <= 2.0, stats.summary()
    assert stats.dominant_hz is not None and abs(stats.dominant_hz - 440.0) <= 2.0, stats.summary()
    assert sandbox.voice.rejected_packets == 0
    assert sandbox.listener(default.lounge).packets == 0

    pcm = listener.pcm()
    frames = stats.packets - stats.decode_errors
    assert len(pcm) == frames * 960 * 2 * 2
    left = np.frombuffer(pcm, dtype="<i2")[::2].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(left * np.hanning(len(left))))
    frequencies = np.fft.rfftfreq(len(left), 1 / 48_000)
    assert abs(frequencies[int(np.argmax(spectrum))] - 440.0) <= 2.0
    assert 20 * np.log10(np.sqrt(np.mean(left**2)) / 32768) > -30  # clearly audible, not near-silence

    path = listener.write_wav(tmp_path / "heard.wav")
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 48_000)
        assert wav.getnframes() == frames * 960
        assert 4.9 <= wav.getnframes() / 48_000 <= 5.3
        assert wav.readframes(wav.getnframes()) == pcm


async def test_voice_hears_the_pitch_that_was_played(sandbox: Sandbox, tmp_path) -> None:
    tone = write_tone(tmp_path / "tone-1000.ogg", 1000.0, 1.0)
    default = sandbox.default
    async with running_client(sandbox) as client:
        voice = await client.get_channel(default.lounge.id).connect(timeout=5)
        assert sandbox.in_voice(default.guild, default.bot.user.id) == default.lounge.id

        # Forged packets (the bot's SSRC with the wrong key, an SSRC nobody has) are rejected unheard.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as forger:
            address = (sandbox.host, sandbox.voice.udp.port)
            forger.sendto(DiscordPySender(bytes(32), ssrc=voice.ssrc).packet(b"\xf8\xff\xfe"), address)
            forger.sendto(DiscordPySender(bytes(voice.secret_key), ssrc=9).packet(b"\xf8\xff\xfe"), address)
        await wait_until(lambda: sandbox.voice.rejected_packets == 2)

        await within(play(voice, tone).wait(), 10)
    stats = sandbox.listener(default.lounge).stats(tone_seconds=0.8)
    assert 50 <= stats.packets <= 60, stats.summary()
    assert stats.dominant_hz is not None and abs(stats.dominant_hz - 1000.0) <= 2.0, stats.summary()
    assert sandbox.listener(default.voice).packets == 0


# -- voice UDP: encryption and IP discovery, against discord.py's own sender code ------------------------


def test_decrypt_xchacha_packets_as_discordpy_sends_them() -> None:
    key = bytes(range(32))
    sender = DiscordPySender(key)
    first, second = sender.packet(b"\xf8\xff\xfe opus one"), sender.packet(b"\xf8\xff\xfe opus two")
    assert first[-4:] == b"\x00\x00\x00\x00" and second[-4:] == b"\x00\x00\x00\x01"

    packet = decrypt_rtp(first, XCHACHA, key)
    assert (packet.sequence, packet.timestamp, packet.ssrc) == (65534, 4294967295 - 960, 1234)
    assert packet.payload == b"\xf8\xff\xfe opus one"
    packet = decrypt_rtp(second, XCHACHA, key)
    assert (packet.sequence, packet.timestamp) == (65535, 4294967295)  # wrapped, as discord.py counts
    assert packet.payload == b"\xf8\xff\xfe opus two"

    # Same as building it by hand with PyNaCl: header is the AAD, the counter is the nonce's head.
    header = first[:12]
    box = nacl.secret.Aead(key)
    assert box.decrypt(first[12:-4], header, first[-4:] + bytes(20)) == b"\xf8\xff\xfe opus one"


@pytest.mark.parametrize("where", ["header", "ciphertext", "tag", "nonce"])
def test_tampered_packet_is_rejected(where: str) -> None:
    key = bytes(range(32))
    packet = bytearray(DiscordPySender(key).packet(b"\xf8\xff\xfe opus"))
    index = {"header": 5, "ciphertext": 13, "tag": len(packet) - 6, "nonce": len(packet) - 1}[where]
    packet[index] ^= 0x01
    with pytest.raises(PacketError):
        decrypt_rtp(bytes(packet), XCHACHA, key)
    with pytest.raises(PacketError):
        decrypt_rtp(DiscordPySender(key).packet(b"x"), XCHACHA, bytes(32))  # wrong key
    with pytest.raises(PacketError):
        decrypt_rtp(b"\x80\x78" + bytes(20), XCHACHA, key)  # too short


def test_decrypt_aes_gcm_rtpsize_with_header_extension() -> None:
    key = bytes(range(100, 132))
    # An RTP header with one CSRC and a one-word extension (as Discord's own clients send): the
    # fixed header, CSRC and extension preamble are authenticated, the extension body is encrypted.
    header = bytearray(12)
    header[0] = 0x80 | 0x10 | 0x01
    header[1] = 0x78
    struct.pack_into(">HII", header, 2, 7, 960 * 7, 4321)
    aad = bytes(header) + struct.pack(">I", 99) + b"\xbe\xde\x00\x01"
    extension_body = b"\x10\xff\x00\x00"
    counter = struct.pack(">I", 5)
    sealed = AESGCM(key).encrypt(counter + bytes(8), extension_body + b"opus frame", aad)
    datagram = aad + sealed + counter

    packet = decrypt_rtp(datagram, AES_GCM, key)
    assert (packet.sequence, packet.timestamp, packet.ssrc) == (7, 960 * 7, 4321)
    assert packet.payload == b"opus frame"

    tampered = bytearray(datagram)
    tampered[14] ^= 0x80  # inside the authenticated extension preamble
    with pytest.raises(PacketError):
        decrypt_rtp(bytes(tampered), AES_GCM, key)
    with pytest.raises(PacketError):
        decrypt_rtp(datagram, XCHACHA, key)  # the right key in the wrong mode


def test_ip_discovery_response_parses_as_discordpy_parses_it() -> None:
    request = bytearray(74)  # built as DiscordVoiceWebSocket.discover_ip builds it
    struct.pack_into(">H", request, 0, 1)
    struct.pack_into(">H", request, 2, 70)
    struct.pack_into(">I", request, 4, 0xDEADBEEF)
    assert is_discovery_request(bytes(request))
    assert not is_discovery_request(bytes(request[:73]))

    recv = discovery_response(bytes(request), ("192.168.10.200", 54321))
    assert len(recv) == DISCOVERY_LENGTH == 74
    assert recv[1] == 0x02  # discord.py's check: data[1] == 0x02 and len(data) == 74
    assert struct.unpack_from(">HHI", recv, 0) == (2, 70, 0xDEADBEEF)
    ip = recv[8 : recv.index(0, 8)].decode("ascii")
    port = struct.unpack_from(">H", recv, len(recv) - 2)[0]
    assert (ip, port) == ("192.168.10.200", 54321)


async def test_ip_discovery_over_udp(sandbox: Sandbox) -> None:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bytes] = loop.create_future()

    class Probe(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            if not answer.done():
                answer.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(
        Probe, remote_addr=(sandbox.host, sandbox.voice.udp.port)
    )
    try:
        request = struct.pack(">HHI", 1, 70, 77) + bytes(66)
        transport.sendto(request)
        recv = await within(answer)
        own_port = transport.get_extra_info("sockname")[1]
        assert struct.unpack_from(">HHI", recv, 0) == (2, 70, 77)
        assert recv[8 : recv.index(0, 8)] == b"127.0.0.1"
        assert struct.unpack_from(">H", recv, 72)[0] == own_port
    finally:
        transport.close()
    await wait_until(lambda: sandbox.voice.udp.datagrams == 1)


async def test_a_crowd_of_new_members_presses_one_button_each_answered_as_themselves(
    sandbox: Sandbox,
) -> None:
    """`add_members` and `press`: each member's click is its own interaction, answered to that member."""
    default = sandbox.default
    client = make_client(sandbox)

    class Counter(discord.ui.View):
        def __init__(self) -> None:
            super().__init__(timeout=None)

        @discord.ui.button(label="Count me", custom_id="count")
        async def count(self, interaction: discord.Interaction, button: discord.ui.Button[Counter]) -> None:
            await interaction.response.send_message(f"counted {interaction.user.name}", ephemeral=True)

    async with running_client(sandbox, client):
        client.add_view(Counter())
        channel = client.get_channel(default.general.id)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("press", view=Counter())
        (message,) = [m for m in sandbox.messages(default.general) if m.id == sent.id]
        crowd = await sandbox.add_members(12)
        assert [m.user.username for m in crowd] == [f"member{n}" for n in range(1, 13)]
        assert all(m.user.id in default.guild.members for m in crowd)
        presses = await asyncio.gather(*(sandbox.press(m, message, "count") for m in crowd))
        await asyncio.gather(*(within(p.wait()) for p in presses))
        for member, pressed in zip(crowd, presses, strict=True):
            assert pressed.original is not None and pressed.original.ephemeral
            assert pressed.original.content == f"counted {member.user.username}"


# -- Discord's limits on a message ------------------------------------------------------------------------


async def test_messages_over_discords_limits_are_refused_as_discord_refuses_them(sandbox: Sandbox) -> None:
    """4,096 characters a description, 6,000 over every embed of a message, 10 embeds, 2,000 of content,
    100 of a custom_id: one over is HTTP 400, code 50035, with the field named; exactly at is accepted."""
    default = sandbox.default
    async with running_client(sandbox) as client:
        channel = client.get_channel(default.general.id)
        assert isinstance(channel, discord.TextChannel)

        async def refused(**fields: object) -> str:
            with pytest.raises(discord.HTTPException) as caught:
                await channel.send(**fields)  # type: ignore[call-overload]
            assert (caught.value.status, caught.value.code) == (400, 50035)
            return caught.value.text

        assert "In embeds.0.description: Must be 4096 or fewer" in await refused(
            embed=discord.Embed(description="x" * 4097)
        )
        # 6,000 is summed over the message: two embeds of 3,000 and 3,001 break it, though each is fine.
        halves = [discord.Embed(description="x" * 3000), discord.Embed(title="t", description="x" * 3000)]
        assert "exceeds maximum size of 6000" in await refused(embeds=halves)
        assert "In content: Must be 2000 or fewer" in await refused(content="x" * 2001)
        assert sandbox.messages(default.general) == []  # nothing refused was stored

        at_limits = [
            discord.Embed(title="t" * 256, description="x" * 4096),
            discord.Embed(description="x" * 1000).set_footer(text="f" * 640),
            *[discord.Embed(description="y") for _ in range(8)],
        ]
        assert sum(len(e) for e in at_limits) == 6000
        sent = await channel.send(content="c" * 2000, embeds=at_limits)
        (stored,) = sandbox.messages(default.general)
        assert stored.id == sent.id and len(stored.embeds) == 10
        with pytest.raises(discord.HTTPException) as caught:  # an edit is held to the same limits
            await sent.edit(embeds=[*at_limits[:9], discord.Embed(description="yy")])
        assert caught.value.code == 50035 and "6000" in caught.value.text
        assert stored.history == []

    # What discord.py checks itself (10 embeds) or cannot be given (a long custom_id), sent as raw JSON.
    async with aiohttp.ClientSession(connector=sandbox.connector()) as http:

        async def errors(body: dict) -> dict:
            headers = {"Authorization": f"Bot {sandbox.token}"}
            url = f"{API}/channels/{default.general.id}/messages"
            async with http.post(url, json=body, headers=headers) as response:
                assert response.status == 400
                answer = await response.json()
            assert answer["code"] == 50035 and answer["message"] == "Invalid Form Body"
            return dict(answer["errors"])

        eleven = await errors({"embeds": [{"title": "t"}] * 11})
        assert eleven["embeds"]["_errors"][0]["message"] == "Must be 10 or fewer in length."
        button = {"type": 2, "style": 1, "label": "Go", "custom_id": "c" * 101}
        long_id = await errors({"content": "hi", "components": [{"type": 1, "components": [button]}]})
        reason = long_id["components"]["0"]["components"]["0"]["custom_id"]["_errors"][0]
        assert reason["code"] == "BASE_TYPE_BAD_LENGTH"
    assert len(sandbox.messages(default.general)) == 1


async def test_an_interaction_answer_over_the_limits_is_refused_and_posts_nothing(sandbox: Sandbox) -> None:
    default = sandbox.default
    client = make_client(sandbox)
    tree = app_commands.CommandTree(client)
    failures: asyncio.Queue[discord.HTTPException] = asyncio.Queue()

    @tree.command(description="Answers with too much")
    async def long(interaction: discord.Interaction) -> None:
        try:
            await interaction.response.send_message(embed=discord.Embed(description="x" * 4097))
        except discord.HTTPException as exc:
            failures.put_nowait(exc)

    async with running_client(sandbox, client):
        await tree.sync()
        record = await sandbox.run_command(default.listener, default.general, "long")
        refused = await within(failures.get())
        assert (refused.status, refused.code) == (400, 50035)
        assert record.response is None and record.original is None  # not acknowledged, nothing posted
        assert sandbox.messages(default.general) == []


async def test_the_voice_endpoint_stamps_a_datagram_when_the_kernel_received_it() -> None:
    """Cadence is measured from the kernel's receive times: a sandbox whose loop is busy (as it is with
    hundreds of channels) must not charge its own delay to the bot. Two datagrams sent 30 ms apart while
    the loop is blocked are read together, yet arrive 30 ms apart."""
    heard: list[tuple[bytes, float]] = []
    endpoint = VoiceUdpEndpoint(lambda data, arrived: heard.append((data, arrived)))
    await endpoint.start("127.0.0.1")
    assert endpoint.kernel_timestamps
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:

        def send_two() -> None:
            client.sendto(b"first", ("127.0.0.1", endpoint.port))
            time.sleep(0.030)
            client.sendto(b"second", ("127.0.0.1", endpoint.port))

        sender = threading.Thread(target=send_two)
        sender.start()
        time.sleep(0.100)  # the loop is busy: neither is read until this returns
        unblocked = time.perf_counter()
        sender.join()
        for _ in range(50):
            await asyncio.sleep(0.01)
            if len(heard) == 2:
                break
    finally:
        client.close()
        endpoint.close()
    assert [data for data, _ in heard] == [b"first", b"second"]
    (_, first), (_, second) = heard
    assert first < second < unblocked
    assert 0.025 <= second - first <= 0.060, second - first
