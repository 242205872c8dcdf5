"""Two real `quranbot run` processes as shards 0 and 1 of 2 against the sandbox, with guilds on each: each
recites in its own guilds only (by ear and by whose gateway session joined voice), each writes only its
own state directory, `quranbot status` shows both (and a stopped one as down); Discord's 4011 is
explained; shard options are checked before anything connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from processes import finish, run_quranbot, start_quranbot, stop_quranbot
from sandbox_client import within

from quranbot.audio.sample import SAMPLE_SLUG
from quranbot.cli.run import process_shard, with_shard_options
from quranbot.config.schema import Config, ConfigError
from quranbot.config.write import write_config
from quranbot.control.machine import machine_bots
from quranbot.paths import Paths
from quranbot.sandbox.defaults import DefaultGuild, add_guild_with_bot
from quranbot.sandbox.server import Sandbox
from quranbot.shards.ownership import Shard, shard_of
from quranbot.store.layout import PLAYBACK, STATE_FILES
from quranbot.store.storage import parse_state_bytes
from quranbot.tui.connection import LinkState, LinkStatus
from quranbot.tui.shard_links import ShardLinks


def shard_args(sandbox: Sandbox, home: Path, guilds: list[DefaultGuild], shard: int | None) -> list[str]:
    channels = [arg for guild in guilds for arg in ("--voice-channel", str(guild.voice.id))]
    args = ["--home", str(home), "run", "--sandbox", sandbox.url, "--sandbox-cert", str(sandbox.cert_file),
            "--token-file", str(sandbox.directory / "token"), "--flush-interval", "0.2",
            *channels]  # fmt: skip
    return args if shard is None else [*args, "--shard-ids", str(shard)]


def guilds_on_both_shards(sandbox: Sandbox) -> list[DefaultGuild]:
    """The default guild (on whichever shard its id gives) and one more on each shard."""
    application = sandbox.default.application
    added = [add_guild_with_bot(sandbox.world, application, f"Shard {s}", shard=(s, 2)) for s in (0, 1)]
    return [sandbox.default, *added]


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.02)


def stored_guilds(state_dir: Path) -> set[int]:
    path = state_dir / PLAYBACK
    return {int(g) for g in parse_state_bytes(path, path.read_bytes())["guilds"]}


async def test_two_shard_processes_each_recite_and_keep_only_their_own_guilds(
    sandbox: Sandbox, home: Path
) -> None:
    guilds = guilds_on_both_shards(sandbox)
    owner = {g.guild.id: shard_of(g.guild.id, 2) for g in guilds}
    assert set(owner.values()) == {0, 1}
    paths = Paths.under(home)
    write_config(paths.config_file, Config(shard_count=2))
    bots = [await start_quranbot(*shard_args(sandbox, home, guilds, shard)) for shard in (0, 1)]
    try:
        listeners = [sandbox.listener(g.voice) for g in guilds]
        await asyncio.gather(*(listener.wait_for_packets(25, timeout=30) for listener in listeners))
        sessions = sandbox.gateway.shard_sessions(sandbox.default.application)
        assert set(sessions) == {0, 1}
        for guild in guilds:  # the voice connection in each guild is its own shard's
            state = guild.guild.voice_states[guild.bot.user.id]
            assert state.session_id == sessions[owner[guild.guild.id]].session_id

        status = run_quranbot("--home", str(home), "status", "--json")
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert report["shard_count"] == 2 and [s["shard"] for s in report["shards"]] == [0, 1]
        for entry in report["shards"]:
            assert entry["running"] and entry["stats"]["pid"] == bots[entry["shard"]].pid
            reciting = {int(g["guild_id"]) for g in entry["status"]["guilds"]}
            assert reciting == {g for g, s in owner.items() if s == entry["shard"]}
            assert all(g["state"] == "playing" for g in entry["status"]["guilds"])

        # a reciter both shards play is not removed: each named with its process, asked over its socket
        removal = run_quranbot("--home", str(home), "reciter", "remove", SAMPLE_SLUG, "--yes")
        refusal = " ".join(removal.stderr.split())
        assert removal.returncode == 1 and "is in use in 3 server(s)" in refusal, refusal
        for shard in (0, 1):
            assert f"shard {shard} (process {bots[shard].pid}) is playing it" in refusal

        # logs: every shard's recent lines merged by time, each with its shard; alerts test: each shard
        logs = run_quranbot("--home", str(home), "logs", "-n", "40")
        assert logs.returncode == 0, logs.stderr
        assert {line.split()[1] for line in logs.stdout.splitlines()} == {"0", "1"}, logs.stdout
        only = run_quranbot("--home", str(home), "logs", "-n", "40", "--shard", "1")
        assert only.returncode == 0 and not only.stdout.startswith("shard"), only.stdout
        assert "as shard 1 of 2" in only.stdout and "as shard 0 of 2" not in only.stdout
        alerts = run_quranbot("--home", str(home), "alerts", "test")
        assert alerts.returncode == 1 and [line[:8] for line in alerts.stdout.splitlines()] == [
            "shard 0:",
            "shard 1:",
        ], alerts.stdout

        # the TUI's link to every shard: guilds of both, stats summed, a control sent to the guild's shard
        states: list[LinkState] = []
        events: list[tuple[str, Any]] = []
        links = ShardLinks(machine_bots(paths).sockets, states.append, lambda *e: events.append(e), 0.2)
        watching = asyncio.create_task(links.run())
        await within(
            _until(lambda: bool(states) and set(states[-1].guild_ids) == {str(g) for g in owner}), 10
        )
        assert (
            states[-1].status is LinkStatus.CONNECTED
            and states[-1].shards == "shard 0 connected, shard 1 connected"
        )
        await within(_until(lambda: any(n == "stats" and d["guilds"] == 3 for n, d in events)), 10)
        merged = next(d for n, d in events if n == "stats" and d["guilds"] == 3)
        assert sorted(merged["pids"]) == sorted(b.pid for b in bots)
        on_one = next(g for g, s in owner.items() if s == 1)
        paused = await links.call("control", action="pause", guild=str(on_one))
        assert paused["guild_id"] == str(on_one) and paused["state"] == "paused"
        resumed = run_quranbot("--home", str(home), "resume", "--guild", str(on_one))  # to shard 1's socket
        assert resumed.returncode == 0 and "Now playing" in resumed.stdout, resumed.stderr
        unnamed = run_quranbot("--home", str(home), "next")
        assert unnamed.returncode == 2 and "name the server by its id (--guild ID)" in unnamed.stderr

        code, _, err = await stop_quranbot(bots[1])
        assert code == 0, err
        down = run_quranbot("--home", str(home), "status")
        assert down.returncode == 0, down.stderr  # one shard still runs: a shard down is no error
        assert "shard 0: running" in down.stdout and "shard 1: down (no control socket at" in down.stdout
        await within(_until(lambda: "shard 1 disconnected" in states[-1].shards), 10)
        assert states[-1].status is LinkStatus.CONNECTED  # shard 0 still is
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching

        listening = run_quranbot("--home", str(home), "stats", "--json")
        assert listening.returncode == 0, listening.stderr
        assert [(s["shard"], s["source"]) for s in json.loads(listening.stdout)["shards"]] == [
            (0, "bot"),
            (1, "files"),
        ]
    finally:
        for bot in bots:
            if bot.returncode is None:
                code, _, err = await stop_quranbot(bot)
                assert code == 0, err
    for shard in (0, 1):
        state_dir = paths.for_shard(shard).state_dir
        assert stored_guilds(state_dir) == {g for g, s in owner.items() if s == shard}
        assert json.loads((state_dir / "shard.json").read_text()) == {"shard": shard, "shard_count": 2}
    assert not any((paths.state_root / name).exists() for name in STATE_FILES), "nothing unsharded written"
    assert not (paths.runtime_root / "control.sock").exists()


async def test_a_bot_in_too_many_guilds_is_told_to_shard(sandbox: Sandbox, home: Path) -> None:
    """Discord closes an unsharded IDENTIFY of a bot over its guild limit with 4011."""
    sandbox.default.application.max_guilds_per_shard = 2
    guilds = guilds_on_both_shards(sandbox)
    bot = await start_quranbot(*shard_args(sandbox, home, guilds, None))
    code, _, err = await finish(bot)
    assert code == 1, err
    assert "error: Discord requires sharding (4011)" in err and "set shard_count" in err
    assert sandbox.gateway.refused_shards == [(4011, None)]


def test_shard_options_are_checked_before_anything_connects(tmp_path: Path) -> None:
    cases = [
        (("2", "2"), "shard_ids: shard 2 is not one of shard_count's 2 (0 to 1)"),
        (("1", None), "--shard-count: 1 is no sharding: leave shard_count out"),
        (("x", None), '--shard-count: "x" is not a whole number of shards from 2 to 4096'),
        ((None, "0"), "shard_ids: needs shard_count (how many shards there are in all)"),
        (("2", "0,0"), "--shard-ids: shard 0 is listed twice"),
        (("2", "0,x"), '--shard-ids: "x" is not a shard id (a whole number from 0)'),
        (("3", None), "shard_ids: this machine runs shards 0, 1, 2 of 3, one process each"),
    ]
    for (count, ids), message in cases:
        with pytest.raises(ConfigError) as refused:
            process_shard(with_shard_options(Config(), count, ids))
        assert str(refused.value).startswith(message), (count, ids, str(refused.value))
    assert process_shard(with_shard_options(Config(), "4", "3")) == Shard(3, 4)
    assert process_shard(with_shard_options(Config(shard_count=2, shard_ids=(0, 1)), None, "1")) == Shard(
        1, 2
    )
    assert process_shard(Config()) is None
    # the command line, end to end: refused before the token or the state is looked at
    result = run_quranbot("--home", str(tmp_path), "run", "--shard-count", "2", "--shard-ids", "2")
    assert result.returncode == 1 and f"error: {cases[0][1]}" in result.stderr, result.stderr
    assert not Paths.under(tmp_path).state_root.exists()


async def test_a_sharded_bot_refuses_unsharded_state_until_it_is_migrated(
    sandbox: Sandbox, home: Path
) -> None:
    paths = Paths.under(home)
    paths.state_root.mkdir(parents=True, exist_ok=True)
    (paths.state_root / PLAYBACK).write_text("{}")
    bot = await start_quranbot(*shard_args(sandbox, home, [sandbox.default], 0), "--shard-count", "2")
    code, _, err = await finish(bot)
    assert code == 1, err
    migrate = "`quranbot shards migrate --from-count 1 --to-count 2`"
    assert f"is unsharded: move its guilds to their shards first with {migrate}" in err
    assert not paths.for_shard(0).state_dir.exists()
