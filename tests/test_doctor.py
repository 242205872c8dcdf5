"""`quranbot doctor` as an admin runs it: a healthy install passes, and each thing broken for real is
named, with its fix, and fails the exit status. The token is never printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from processes import finish, run_quranbot, start_quranbot
from pytest import MonkeyPatch
from running_bot import RunningBot

from quranbot.config.schema import Config
from quranbot.config.write import write_config
from quranbot.doctor import check_shard_services
from quranbot.paths import Paths
from quranbot.sandbox.server import Sandbox
from quranbot.shards.ownership import Shard, shard_of

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"


def write_token(home: Path, mode: int = 0o600) -> Path:
    path = Paths.under(home).token_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TOKEN + "\n")
    path.chmod(mode)
    return path


def checks(output: str) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in json.loads(output)["checks"]}


async def test_a_healthy_install_passes_and_the_running_bot_answers(sandbox: Sandbox, home: Path) -> None:
    write_token(home)
    async with RunningBot(sandbox, home, voice_channels=(sandbox.default.voice.id,)):
        await sandbox.listener(sandbox.default.voice).wait_for_packets(10, timeout=20)
        code, out, err = await finish(await start_quranbot("--home", str(home), "doctor", "--json"))
    assert code == 0, out + err
    found = checks(out)
    for name in (
        "Python",
        "ffmpeg",
        "libopus",
        "voice encryption",
        "token",
        "state",
        "reciters",
        "disk",
        "clock",
    ):
        assert found[name]["status"] == "ok", found[name]
    assert (
        found["control socket"]["status"] == "ok"
        and "1 voice connection(s)" in found["control socket"]["detail"]
    )
    assert found["reciters"]["detail"].startswith("Sample tones (not a recitation) (7 surahs)")
    assert TOKEN not in out and TOKEN not in err


def test_each_broken_thing_is_named_with_its_fix(home: Path) -> None:
    Paths.under(home).state_dir.mkdir(parents=True, exist_ok=True)
    (Paths.under(home).state_dir / "playback.json").write_text('{"_meta": {"schema": 1}, "guil')  # torn
    sample = Paths.under(home).audio_dir / "sample-tones"
    next(sample.glob("*.ogg")).unlink()  # a track file gone
    result = run_quranbot("--home", str(home), "doctor", "--json")
    assert result.returncode == 1
    found = checks(result.stdout)
    assert found["token"]["status"] == "fail" and found["token"]["fix"] == "run `quranbot setup`"
    assert found["state"]["status"] == "fail" and "playback.json" in found["state"]["detail"]
    assert "repairs the file from the newest good backup" in found["state"]["fix"]
    assert found["reciters"]["status"] == "fail" and "1 track file(s) missing" in found["reciters"]["detail"]
    assert found["control socket"]["status"] == "warn" and "not running" in found["control socket"]["detail"]

    write_token(home, mode=0o644)
    result = run_quranbot("--home", str(home), "doctor")
    assert "others may read the token" in result.stdout and "chmod 600" in result.stdout
    assert TOKEN not in result.stdout + result.stderr

    Paths.under(home).token_file.write_text("not-a-token\n")
    found = checks(run_quranbot("--home", str(home), "doctor", "--json").stdout)
    assert "that is not a bot token" in found["token"]["detail"]

    Paths.under(home).config_file.write_text("[backup]\ninterval_minutes = 0\n")
    found = checks(run_quranbot("--home", str(home), "doctor", "--json").stdout)
    assert found["config"]["status"] == "fail" and "backup.interval_minutes" in found["config"]["detail"]
    assert (
        found["quiz banks"]["status"] == "ok"
        and "questions (0 imported bank(s))" in found["quiz banks"]["detail"]
    )

    banks = Paths.under(home).quiz_banks_dir
    banks.mkdir(parents=True)
    (banks / "edited.toml").write_text('[bank]\nname = "Edited by hand"\n[[questions]]\nid = "x"\n')
    found = checks(run_quranbot("--home", str(home), "doctor", "--json").stdout)
    assert (
        found["quiz banks"]["status"] == "warn"
        and "1 imported bank(s) not loaded" in found["quiz banks"]["detail"]
    )
    assert (
        "edited.toml:" in found["quiz banks"]["detail"]
        and "quranbot quiz validate" in found["quiz banks"]["fix"]
    )


def test_a_missing_ffmpeg_is_found_by_trying_it(home: Path, tmp_path: Path) -> None:
    write_token(home)
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}
    result = subprocess.run([sys.executable, "-m", "quranbot", "--home", str(home), "doctor", "--json"],
                            capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert result.returncode == 1
    found = checks(result.stdout)
    assert found["ffmpeg"]["status"] == "fail" and "apt-get install ffmpeg" in found["ffmpeg"]["fix"]


async def test_sharded_each_shard_state_and_socket_is_checked(sandbox: Sandbox, home: Path) -> None:
    """One real shard running, the other stopped with a torn state file: each is named, nothing unsharded."""
    paths = Paths.under(home)
    write_token(home)
    write_config(paths.config_file, Config(shard_count=2))
    running = shard_of(sandbox.default.guild.id, 2)
    stopped = 1 - running
    torn = paths.for_shard(stopped).state_dir / "playback.json"
    torn.parent.mkdir(parents=True)
    torn.write_text('{"_meta": {"schema": 1}, "guil')
    bot = RunningBot(sandbox, home, voice_channels=(sandbox.default.voice.id,), shard=Shard(running, 2))
    bot.paths = paths.for_shard(running)
    async with bot:
        await sandbox.listener(sandbox.default.voice).wait_for_packets(10, timeout=20)
        code, out, err = await finish(await start_quranbot("--home", str(home), "doctor", "--json"))
    assert code == 1, out + err
    found = checks(out)
    assert not {"state", "control socket"} & set(found), "no unsharded state or socket when sharded"
    assert found["shard layout"]["status"] == "ok" and "shard_count = 2" in found["shard layout"]["detail"]
    assert found[f"state, shard {running}"]["status"] == "ok"
    assert (
        found[f"state, shard {stopped}"]["status"] == "fail"
        and str(torn) in found[f"state, shard {stopped}"]["detail"]
    )
    mine = found[f"control socket, shard {running}"]
    assert mine["status"] == "ok" and "1 voice connection(s)" in mine["detail"]
    other = found[f"control socket, shard {stopped}"]
    assert other["status"] == "warn" and str(paths.for_shard(stopped).control_socket) in other["detail"]
    assert found["service"]["detail"] == "systemd is not running here"

    torn.unlink()
    (paths.state_root / "playback.json").write_text('{"_meta": {"schema": 1}, "guilds": {}}')
    found = checks(run_quranbot("--home", str(home), "doctor", "--json").stdout)
    assert found["shard layout"]["status"] == "fail"
    assert "quranbot shards migrate --from-count 1 --to-count 2" in found["shard layout"]["detail"]


def test_sharded_the_service_check_asks_for_every_shard_unit(
    tmp_path: Path, monkeypatch: MonkeyPatch
) -> None:
    """`systemctl is-active` of each quranbot@N (a stand-in systemctl that answers per unit)."""
    bin_dir, failed = tmp_path / "bin", tmp_path / "failed-units"
    bin_dir.mkdir()
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(
        '#!/bin/sh\n[ "$1" = is-active ] || exit 2\nshift\n'
        f'for unit in "$@"; do grep -qx "$unit" {failed} && echo failed || echo active; done\n'
    )
    systemctl.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    failed.write_text("quranbot@3.service\n")
    check = check_shard_services([1, 3], 4, systemd=tmp_path)
    assert check.status == "fail"
    assert check.detail == "quranbot@3.service is failed (1 of 2 shard(s) active)"
    assert check.fix.startswith("sudo quranbot service install --shards 4")
    failed.write_text("")
    check = check_shard_services([1, 3], 4, systemd=tmp_path)
    assert check.status == "ok" and check.detail == "quranbot@1.service, quranbot@3.service: active"
    assert check_shard_services([1], 4, systemd=tmp_path / "absent").status == "warn"
