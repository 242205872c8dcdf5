"""The sandbox shards guilds as Discord does: real discord.py clients IDENTIFY as shard 0 and 1 of 2 and
each sees only its own guilds and their events; wrong IDENTIFYs are closed with 4010 and 4011;
GET /gateway/bot recommends a shard count.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable

import aiohttp
import discord
import pytest
from sandbox_client import make_client, running_client, within

from quranbot.sandbox.defaults import add_guild_with_bot
from quranbot.sandbox.gateway import CloseCode, guild_shard, parse_shard
from quranbot.sandbox.server import Sandbox
from quranbot.shards.ownership import shard_of

GATEWAY = "wss://gateway.discord.gg/?v=10&encoding=json"


def test_the_sandbox_and_the_bot_agree_with_discords_formula() -> None:
    # Discord's docs: shard_id = (guild_id >> 22) % num_shards; their example snowflake has the time
    # stamp 41944705796 (ms since 2015), which is 0 modulo 2 and 1 modulo 5.
    for guild_id, count, shard in ((175928847299117063, 2, 0), (175928847299117063, 5, 1), (1 << 22, 3, 1)):
        assert guild_shard(guild_id, count) == shard_of(guild_id, count) == shard
    assert parse_shard(None) is None and parse_shard([1, 2]) == (1, 2)
    for wrong in ([2, 2], [-1, 2], [0, 0], [0], [0, 1, 2], ["0", "2"], [True, 2], "0,2", {"id": 0}):
        with pytest.raises(ValueError):
            parse_shard(wrong)


def test_guild_ids_can_be_made_for_a_shard(sandbox: Sandbox) -> None:
    world = sandbox.world
    made = {
        (shard, count): world.snowflake.on_shard(shard, count)
        for count in (2, 3, 7)
        for shard in range(count)
    }
    assert all(guild_shard(guild_id, count) == shard for (shard, count), guild_id in made.items())
    assert len(set(made.values())) == len(made)
    with pytest.raises(ValueError):
        world.snowflake.on_shard(2, 2)


@contextlib.asynccontextmanager
async def shard_clients(sandbox: Sandbox, count: int) -> AsyncIterator[list[discord.Client]]:
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for shard in range(count):
            client = make_client(sandbox, shard_id=shard, shard_count=count)
            clients.append(await stack.enter_async_context(running_client(sandbox, client)))
        yield clients


async def test_each_shard_receives_only_its_own_guilds_and_their_events(sandbox: Sandbox) -> None:
    application = sandbox.default.application
    ours = [
        add_guild_with_bot(sandbox.world, application, f"Shard {s} guild", shard=(s, 2)) for s in (0, 1, 1)
    ]
    expected: dict[int, set[int]] = {0: set(), 1: set()}
    for guild in [sandbox.default.guild, *(g.guild for g in ours)]:
        expected[guild_shard(guild.id, 2)].add(guild.id)
    async with shard_clients(sandbox, 2) as (zero, one):
        assert {g.id for g in zero.guilds} == expected[0] and {g.id for g in one.guilds} == expected[1]
        assert zero.shard_id == 0 and one.shard_id == 1
        assert set(sandbox.gateway.shard_sessions(application)) == {0, 1}

        heard: dict[int, list[int]] = {0: [], 1: []}
        for shard, client in enumerate((zero, one)):

            @client.event
            async def on_voice_state_update(
                member: discord.Member, before: object, after: object, shard: int = shard
            ) -> None:
                heard[shard].append(member.guild.id)

        for guild in ours:
            await sandbox.join_voice(guild.listener, guild.voice)
        await within(_until(lambda: len(heard[0]) + len(heard[1]) == 3))
        await asyncio.sleep(0.1)  # nothing more arrives at either shard
        assert heard == {0: [ours[0].guild.id], 1: [ours[1].guild.id, ours[2].guild.id]}


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)


async def test_a_shard_not_below_the_count_is_refused_with_4010(sandbox: Sandbox) -> None:
    client = make_client(sandbox, shard_id=2, shard_count=2)
    try:
        await client.login(sandbox.token)
        with pytest.raises(discord.ConnectionClosed) as closed:
            await within(client.connect(reconnect=False))
        assert closed.value.code == CloseCode.INVALID_SHARD == 4010
    finally:
        await client.close()
    assert sandbox.gateway.refused_shards == [(4010, [2, 2])]
    assert sandbox.gateway.sessions == {}


async def identify_raw(sandbox: Sandbox, shard: object) -> tuple[int | None, list[dict[str, object]]]:
    """IDENTIFY with `shard` as it is; the close code (None: still open) and what arrived."""
    received: list[dict[str, object]] = []
    async with aiohttp.ClientSession(connector=sandbox.connector()) as http, http.ws_connect(GATEWAY) as ws:
        received.append(json.loads((await ws.receive(timeout=5)).data))  # HELLO
        identify = {"token": sandbox.token, "intents": 1, "properties": {}, "shard": shard}
        await ws.send_str(json.dumps({"op": 2, "d": identify}))
        message = await ws.receive(timeout=5)
        while message.type == aiohttp.WSMsgType.TEXT:
            received.append(json.loads(message.data))
            if received[-1].get("t") == "GUILD_CREATE":
                break
            message = await ws.receive(timeout=5)
        return ws.close_code, received


async def test_malformed_shards_are_refused_with_4010(sandbox: Sandbox) -> None:
    for shard in ([0], [1, 1], [-1, 2], [0, 0], "0/2", [0.0, 2]):
        code, received = await identify_raw(sandbox, shard)
        assert code == 4010, (shard, received)
        assert [m["op"] for m in received] == [10], "nothing but HELLO before the close"


async def test_too_many_guilds_for_one_session_is_refused_with_4011(sandbox: Sandbox) -> None:
    application = sandbox.default.application
    application.max_guilds_per_shard = 1
    add_guild_with_bot(
        sandbox.world, application, "Second", shard=(1 - guild_shard(sandbox.default.guild.id, 2), 2)
    )
    code, _ = await identify_raw(sandbox, None)
    assert code == CloseCode.SHARDING_REQUIRED == 4011
    code, received = await identify_raw(sandbox, [0, 2])  # one guild per shard is within the limit
    assert code is None and received[1]["t"] == "READY"
    assert received[1]["d"]["shard"] == [0, 2] and len(received[1]["d"]["guilds"]) == 1  # type: ignore[index]


async def test_gateway_bot_recommends_a_shard_count(sandbox: Sandbox) -> None:
    application = sandbox.default.application
    async with running_client(sandbox) as client:
        shards, url, _ = await client.http.get_bot_gateway()
        assert (shards, url) == (1, "wss://gateway.discord.gg")
        application.guilds_per_recommended_shard = 2
        for index in range(4):  # five guilds in all
            add_guild_with_bot(sandbox.world, application, f"Guild {index}")
        shards, _, _ = await client.http.get_bot_gateway()
        assert shards == 3
