"""The audit trail, as an admin finds it: the file after members, the terminal and the bot itself acted
(refusals included), after a restart, rotated to its bound, with a torn last line, filtered by
`quranbot audit`, and inside backups.

The bot is the real one on the sandbox; the file is read back the way `quranbot audit` reads it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import getpass
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from processes import as_nobody, finish, run_quranbot, start_quranbot
from running_bot import RunningBot
from sandbox_client import within
from typer.testing import CliRunner

from quranbot.audit.files import audit_files
from quranbot.audit.reader import read_records
from quranbot.audit.record import AuditRecord
from quranbot.audit.writer import AuditLog
from quranbot.backup.archive import create_backup, restore_backup, verify_backup
from quranbot.cli.app import app
from quranbot.config.schema import Config
from quranbot.config.write import write_config
from quranbot.control.client import ControlClient
from quranbot.paths import Paths
from quranbot.sandbox.model import Message
from quranbot.sandbox.server import Sandbox
from quranbot.secret import Secret
from quranbot.store.records import GuildPlayback, GuildSettings
from quranbot.store.state import StateStore

Match = Callable[[AuditRecord], bool]


def trail(home: Path) -> list[AuditRecord]:
    return list(read_records(Paths.under(home).state_dir))


async def recorded(home: Path, what: str, match: Match, timeout: float = 10.0) -> AuditRecord:
    """The first record that matches, once the bot has written it."""
    async with asyncio.timeout(timeout):
        while True:
            found = next((r for r in trail(home) if match(r)), None)
            if found is not None:
                return found
            await asyncio.sleep(0.05)
    raise AssertionError(f"never recorded: {what}")  # unreachable: the timeout raises first


def configure(sandbox: Sandbox, home: Path) -> None:
    """Recite in the voice channel, a panel, only the controller role steers, surah 1 on loop."""
    d = sandbox.default
    paths = Paths.under(home)
    with StateStore(paths.state_dir, paths.backups_dir) as store:
        store.save_settings(
            GuildSettings(
                guild_id=d.guild.id,
                voice_channel_id=d.voice.id,
                panel_channel_id=d.panel.id,
                controller_role_id=d.controller_role.id,
            )
        )
        store.set_playback(GuildPlayback(guild_id=d.guild.id, loop=True))


async def synced(sandbox: Sandbox) -> None:
    async with asyncio.timeout(15):
        while not any(c["name"] == "next" for c in sandbox.default.application.global_commands):
            await asyncio.sleep(0.05)


async def the_panel(sandbox: Sandbox) -> Message:
    async with asyncio.timeout(15):
        while not (panels := [m for m in sandbox.messages(sandbox.default.panel) if m.embeds]):
            await asyncio.sleep(0.05)
    return panels[0]


async def quranbot(home: Path, *args: str) -> tuple[int, str, str]:
    return await finish(await start_quranbot("--home", str(home), *args))


async def test_every_kind_of_action_is_on_record_and_survives_a_restart(sandbox: Sandbox, home: Path) -> None:
    d = sandbox.default
    guild, admin, member = str(d.guild.id), str(d.admin.user.id), str(d.listener.user.id)
    configure(sandbox, home)
    async with RunningBot(sandbox, home):
        await synced(sandbox)
        panel = await the_panel(sandbox)

        # Discord: a command that went through, and refusals (the controller role, Manage Server)
        await (await sandbox.run_command(d.admin, d.general, "next")).wait()
        ok = await recorded(home, "/next by the admin", lambda r: r.action == "next" and r.actor_id == admin)
        assert (ok.source, ok.actor, ok.result, ok.guild_id, ok.channel_id) == (
            "discord", "admin", "ok", guild, str(d.general.id)
        )  # fmt: skip
        await (await sandbox.run_command(d.listener, d.general, "next")).wait()
        no_role = await recorded(
            home, "a refused /next", lambda r: r.action == "next" and r.actor_id == member
        )
        assert no_role.result == "refused" and f"<@&{d.controller_role.id}>" in no_role.reason
        await (await sandbox.run_command(d.listener, d.general, "setup", voice_channel=d.lounge.id)).wait()
        setup = await recorded(home, "a refused /setup", lambda r: r.action == "setup")
        assert setup.result == "refused" and setup.reason == "no permission: needs manage_guild"
        assert setup.args == {"voice_channel": f"Lounge ({d.lounge.id})"}

        # the panel: a member without the role is refused; with it, the press goes through
        await (await sandbox.press(d.listener, panel, "quranbot:panel:pause")).wait()
        refused = await recorded(home, "a refused press", lambda r: r.source == "panel")
        assert (refused.action, refused.actor, refused.result) == ("panel.pause", "listener", "refused")
        await sandbox.world.set_member_role(d.guild, d.listener, d.controller_role.id, add=True)
        await (await sandbox.press(d.listener, panel, "quranbot:panel:next")).wait()
        pressed = await recorded(home, "a press", lambda r: r.action == "panel.next")
        assert (pressed.source, pressed.actor_id, pressed.result) == ("panel", member, "ok")
        assert pressed.args == {"what": "Skipped to the next surah"}

        # a cooldown: one member's sixth steering command within 10 s (the refused /next was the first)
        answers = []
        for _ in range(5):
            answers.append((await (await sandbox.run_command(d.listener, d.general, "next")).wait())["data"])
        assert any(a["content"].startswith("Slow down") for a in answers)
        cooldown = await recorded(home, "a cooldown", lambda r: r.reason.startswith("cooldown"))
        assert (cooldown.action, cooldown.actor_id, cooldown.result) == ("next", member, "refused")

        # the terminal: the login name, uid and process of whoever ran `quranbot`
        assert (await quranbot(home, "play", "3"))[0] == 0
        played = await recorded(home, "quranbot play", lambda r: r.source == "terminal")
        assert (played.action, played.actor, played.actor_id) == ("play", getpass.getuser(), str(os.getuid()))
        assert played.args == {"surah": "3"} and played.guild_id == guild and played.pid
        code, _, err = await quranbot(home, "play", "3", "--guild", "Elsewhere")
        assert code == 1 and "no guild 'Elsewhere' plays here" in err
        elsewhere = await recorded(home, "a refused play", lambda r: r.args.get("guild") == "Elsewhere")
        assert elsewhere.result == "refused" and elsewhere.reason == "no guild 'Elsewhere' plays here"

        # the TUI's view: the `audit` method (filtered) and topic (a snapshot, then each new record)
        async with await ControlClient.connect(Paths.under(home).control_socket) as client:
            refusals = (await client.call("audit", result="refused", user=member))["entries"]
            assert [r["action"] for r in refusals] == ["next", "setup", "panel.pause", "next"]
            await client.subscribe("audit")
            snapshot = [await within(client.events.get()) for _ in range(len(trail(home)))]
            assert [data for _, data in snapshot] == [r.to_json() for r in trail(home)]
            await (await sandbox.run_command(d.admin, d.general, "pause")).wait()
            name, live = await within(client.events.get())
            assert name == "audit" and (live["action"], live["actor_id"]) == ("pause", admin)

        # the bot itself: the watchdog brings the voice connection back after a kick
        await sandbox.faults.kick_from_voice(d.guild)
        recovery = await recorded(home, "a recovery", lambda r: r.action == "voice.recover", timeout=20)
        assert (recovery.source, recovery.actor, recovery.result) == ("bot", "bot", "ok")
        assert recovery.args["why"].startswith("not in voice") and recovery.guild_id == guild
    first_run = trail(home)

    assert sandbox.in_voice(d.guild, d.bot.user.id) is None
    async with RunningBot(sandbox, home):
        await sandbox.wait_for_voice(d.guild, d.bot.user.id, d.voice.id, timeout=20)  # back, logged in
        await (await sandbox.run_command(d.admin, d.general, "ping")).wait()
        await recorded(home, "/ping after the restart", lambda r: r.action == "ping")
    # read as an admin would, with the bot stopped
    code, out, _ = await quranbot(home, "audit", "--limit", "0", "--json")
    assert code == 0
    after = [AuditRecord.from_json(json.loads(line)) for line in out.splitlines()]
    assert after[: len(first_run)] == first_run  # kept across the restart, in order
    assert [r.action for r in after[len(first_run) :]] == ["ping"]  # appended after them
    assert [r.time for r in after] == sorted(r.time for r in after)
    text = "".join(p.read_text() for p in audit_files(Paths.under(home).state_dir))
    assert sandbox.token not in text


async def test_a_terminal_user_the_socket_turns_away_is_on_record(sandbox: Sandbox, home: Path) -> None:
    """As `nobody`, for real, against a socket whose mode was loosened by mistake: the bot's own check
    (SO_PEERCRED) refuses, and the refusal is recorded."""
    if os.geteuid() != 0:
        pytest.fail("this test drops privileges for real and needs root (CI runs as root)")
    open_home = Path(tempfile.mkdtemp(prefix="quranbot-audit-"))
    try:
        os.chmod(open_home, 0o755)
        shutil.copytree(home, open_home / "home")
        paths = Paths.under(open_home / "home")
        async with RunningBot(sandbox, open_home / "home"):
            async with asyncio.timeout(15):
                while not paths.control_socket.exists():
                    await asyncio.sleep(0.05)
            os.chmod(paths.runtime_dir, 0o755)
            os.chmod(paths.control_socket, 0o666)  # the mistake the peer check guards against
            answer = await asyncio.to_thread(connect_as_nobody, paths.control_socket)
            assert '"code":"forbidden"' in answer, answer
            refused = await recorded(open_home / "home", "the refusal", lambda r: r.action == "connect")
        assert (refused.source, refused.actor_id, refused.result) == ("terminal", "65534", "refused")
        assert refused.reason.startswith("no permission") and refused.actor == "nobody"
    finally:
        shutil.rmtree(open_home, ignore_errors=True)


def connect_as_nobody(path: Path) -> str:
    """As nobody: connect, and report the first line the bot sent."""

    def connect() -> str:
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(10)
            client.connect(str(path))
            return client.recv(65536).decode()

    return as_nobody(connect)


# -- the file ----------------------------------------------------------------------------------------
def numbered(count: int, **fields: object) -> Iterator[AuditRecord]:
    for n in range(count):
        yield AuditRecord.create("terminal", "root", "play", actor_id=0, args={"n": n, **fields})


def test_rotation_keeps_the_trail_within_its_bound_and_drops_only_the_oldest(tmp_path: Path) -> None:
    with AuditLog(tmp_path, max_bytes=4096, keep=2) as trail:
        for record in numbered(400):
            trail.record(record)
    files = audit_files(tmp_path)
    assert [p.name for p in files] == ["audit.2.jsonl", "audit.1.jsonl", "audit.jsonl"]
    assert all(p.stat().st_size <= 4096 for p in files)
    kept = [int(r.args["n"]) for r in read_records(tmp_path)]
    assert kept == list(range(400 - len(kept), 400)) and 40 < len(kept) < 100  # the newest, in order
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in files)

    with AuditLog(tmp_path, max_bytes=4096, keep=1) as trail:  # a smaller bound takes effect
        for record in numbered(40):
            trail.record(record)
    assert [p.name for p in audit_files(tmp_path)] == ["audit.1.jsonl", "audit.jsonl"]


def test_a_torn_last_line_is_skipped_and_the_next_record_starts_a_line_of_its_own(tmp_path: Path) -> None:
    with AuditLog(tmp_path) as trail:
        for record in numbered(3):
            trail.record(record)
    with (tmp_path / "audit.jsonl").open("ab") as file:  # the power went mid-write
        file.write(b'{"time":"2026-12-04T20:00:00.000+00:00","source":"disc')
    assert [r.args["n"] for r in read_records(tmp_path)] == ["0", "1", "2"]
    result = CliRunner().invoke(app, ["--home", str(tmp_path.parent / "h"), "audit"])
    assert result.exit_code == 0  # (no trail there at all: said plainly)
    assert "No audit records" in result.stdout

    with AuditLog(tmp_path) as trail:  # the next start
        assert [r.args["n"] for r in trail.recent(10)] == ["0", "1", "2"]
        trail.record(AuditRecord.create("bot", "bot", "voice.recover"))
    assert [r.action for r in read_records(tmp_path)] == ["play"] * 3 + ["voice.recover"]


def test_secrets_never_reach_the_file(tmp_path: Path) -> None:
    token = Secret("MTIzNDU2Nzg5MDEyMzQ1Njc4.GAbCdE.abcdefghijklmnopqrstuvwxyz0123456789AB")
    url = "https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOp_qrs-tuv"
    with AuditLog(tmp_path, secrets=[token]) as trail:
        trail.record(
            AuditRecord.create(
                "terminal", "root", "config.set", reason=f"rejected {token.reveal()}",
                args={"token": "typed-here", "value": url, "note": f"see {token.reveal()}"},
            )
        )  # fmt: skip
        kept = trail.recent(1)[0]
    text = (tmp_path / "audit.jsonl").read_text()
    for secret in (token.reveal(), url, "typed-here", "AbCdEfGhIjKlMnOp"):
        assert secret not in text and secret not in json.dumps(kept.to_json())
    assert kept.args == {"token": "********", "value": "********", "note": "see ********"}


# -- quranbot audit ------------------------------------------------------------------------------------
GUILD_A, GUILD_B = "157500000000000001", "157500000000000002"
ALICE = "157500000000000101"


def write_trail(home: Path) -> None:
    """Records of two guilds, Discord and terminal and bot, some refused, some of three days ago."""
    old = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=3)).isoformat(
        timespec="milliseconds"
    )
    records = [
        AuditRecord.create("discord", "Alice", "play", actor_id=ALICE, guild_id=GUILD_A, args={"surah": 18}),
        AuditRecord.create(
            "discord",
            "Alice",
            "next",
            actor_id=ALICE,
            guild_id=GUILD_A,
            result="refused",
            reason="cooldown: 8 s left",
        ),
        AuditRecord.create("panel", "Bilal", "panel.pause", actor_id="157500000000000102", guild_id=GUILD_B),
        AuditRecord.create("terminal", "root", "backup", actor_id=0, pid=4242),
        AuditRecord.create("bot", "bot", "voice.recover", guild_id=GUILD_B, args={"why": "moved"}),
    ]
    records[0] = AuditRecord(**{**records[0].__dict__, "time": old})
    with AuditLog(Paths.under(home).state_dir) as trail:
        for record in records:
            trail.record(record)


def audit(home: Path, *args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(app, ["--home", str(home), "audit", "--json", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_quranbot_audit_filters_and_prints_json_or_a_table(tmp_path: Path) -> None:
    write_trail(tmp_path)
    assert [r["action"] for r in audit(tmp_path)] == [
        "play",
        "next",
        "panel.pause",
        "backup",
        "voice.recover",
    ]
    assert [r["action"] for r in audit(tmp_path, "--guild", GUILD_A)] == ["play", "next"]
    assert [r["action"] for r in audit(tmp_path, "--user", ALICE)] == ["play", "next"]
    assert [r["action"] for r in audit(tmp_path, "--user", "bilal")] == ["panel.pause"]  # a name, any case
    assert [r["action"] for r in audit(tmp_path, "--since", "2h")] == [
        "next",
        "panel.pause",
        "backup",
        "voice.recover",
    ]
    since_date = (datetime.date.today() - datetime.timedelta(days=5)).isoformat()
    assert len(audit(tmp_path, "--since", since_date)) == 5
    assert [r["action"] for r in audit(tmp_path, "--result", "refused")] == ["next"]
    assert [r["action"] for r in audit(tmp_path, "--source", "bot")] == ["voice.recover"]
    assert [r["action"] for r in audit(tmp_path, "--limit", "2")] == ["backup", "voice.recover"]
    (refused,) = audit(tmp_path, "--result", "refused")
    assert refused["reason"] == "cooldown: 8 s left" and refused["guild_id"] == GUILD_A
    assert refused["time"].endswith("+00:00")  # type: ignore[union-attr]

    table = run_quranbot("--home", str(tmp_path), "audit", "--guild", GUILD_A)
    assert table.returncode == 0
    assert "Alice (157500000000000101)" in table.stdout and "play surah=18" in table.stdout
    assert "refused: cooldown: 8 s left" in table.stdout and "backup" not in table.stdout

    bad = CliRunner().invoke(app, ["--home", str(tmp_path), "audit", "--since", "yesterday"])
    assert bad.exit_code == 2 and "neither a duration" in bad.output
    bad = CliRunner().invoke(app, ["--home", str(tmp_path), "audit", "--result", "maybe"])
    assert bad.exit_code == 2 and "not one of ok, refused, error" in bad.output


# -- backups -------------------------------------------------------------------------------------------
def test_backups_hold_the_trail_and_a_restore_brings_it_back(tmp_path: Path) -> None:
    state, backups = tmp_path / "state", tmp_path / "backups"
    with StateStore(state, backups) as store:
        store.set_playback(GuildPlayback(guild_id=int(GUILD_A), surah=18))
    with AuditLog(state, max_bytes=2048, keep=3) as trail:
        for record in numbered(60):
            trail.record(record)
    with (state / "audit.jsonl").open("ab") as file:
        file.write(b'{"torn')  # a trail cut short is still worth backing up, and still verifies
    before = {p.name: p.read_bytes() for p in audit_files(state)}
    assert len(before) == 4

    info = create_backup(state, backups)
    held = {f.name for f in verify_backup(info.path).files}
    assert {"playback.json", *before} <= held and not any(".pre-restore" in name for name in held)

    for path in audit_files(state):
        path.unlink()
    with AuditLog(state) as trail:  # what happened since the backup
        trail.record(AuditRecord.create("terminal", "root", "pause"))
    result = restore_backup(info.path, state, backups)
    assert {p.name: p.read_bytes() for p in audit_files(state)} == before
    assert set(before) <= set(result.restored)
    assert result.safety_backup is not None  # what was there before the restore is kept
    assert "audit.jsonl" in {f.name for f in verify_backup(result.safety_backup).files}


def test_sharded_every_shards_trail_merged_by_time(tmp_path: Path) -> None:
    """Each shard's audit.jsonl, written as its bot writes it; `quranbot audit` merges them by time."""
    paths = Paths.under(tmp_path)
    write_config(paths.config_file, Config(shard_count=2))
    start = datetime.datetime(2026, 5, 1, 12, 0, tzinfo=datetime.UTC)
    written = [(0, "pause", 0), (1, "resume", 1), (0, "next", 2), (1, "loop", 3), (1, "shuffle", 4)]
    for shard in (0, 1):
        with AuditLog(paths.for_shard(shard).state_dir) as trail:
            for _, action, minute in (w for w in written if w[0] == shard):
                moment = (start + datetime.timedelta(minutes=minute)).isoformat(timespec="milliseconds")
                record = AuditRecord.create("discord", "Amina", action, guild_id=1000 + shard)
                trail.record(dataclasses.replace(record, time=moment))
    every = run_quranbot("--home", str(tmp_path), "audit", "--json")
    assert every.returncode == 0, every.stderr
    lines = [json.loads(line) for line in every.stdout.splitlines()]
    assert [(line["shard"], line["action"]) for line in lines] == [(s, a) for s, a, _ in written]
    newest = run_quranbot("--home", str(tmp_path), "audit", "--json", "-n", "2", "--guild", "1001")
    assert [json.loads(line)["action"] for line in newest.stdout.splitlines()] == ["loop", "shuffle"]
    one = run_quranbot("--home", str(tmp_path), "audit", "--json", "--shard", "0")
    assert [json.loads(line)["action"] for line in one.stdout.splitlines()] == ["pause", "next"]
    table = run_quranbot("--home", str(tmp_path), "audit")
    rows = [line.split() for line in table.stdout.splitlines() if "Amina" in line]
    assert [row[0] for row in rows] == ["0", "1", "0", "1", "1"], table.stdout
    assert "shard" in table.stdout.splitlines()[1]
