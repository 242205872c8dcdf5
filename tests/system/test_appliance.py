"""The system stage: QuranBot installed on a fresh Debian 12 with a real systemd, as an admin would do it.

A minbase Debian root (debootstrap, cached under /var/cache/quranbot-ci) boots in systemd-nspawn with
this checkout read-only at /src; commands run inside with nsenter. The container shares the host's
network, so the bot inside reaches the sandbox this test serves on the host's 127.0.0.1, and the sandbox
hears its voice packets. The steps run in order on one machine and build on each other: after a failed
step the rest are skipped.

Two test-only changes to the installed service, in the drop-in quranbot.service.d/test.conf (the unit
itself is exactly what `quranbot service install` renders):
- ExecStart gains `--sandbox URL --sandbox-cert FILE`, to reach the local Discord instead of the real one;
- WatchdogSec=5 instead of 30, so the frozen-bot step takes seconds, not a minute.
The shards' template gets the same ExecStart change in quranbot@.service.d/test.conf, only while the
machine runs as shards (the sandbox then holds a second guild, so each of the two shards owns one).

Run: `.venv/bin/python -m pytest -m system tests/system` as root (CI does, after the main suite).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from background_sandbox import BackgroundSandbox
from nspawn import CACHE, Container, booted, debian_root, ensure_host_tools

from quranbot.audio.sample import surah_from_frequency
from quranbot.sandbox.defaults import DefaultGuild, add_guild_with_bot
from quranbot.sandbox.server import Sandbox
from quranbot.shards.ownership import shard_of

pytestmark = pytest.mark.system

CHECKOUT = Path(__file__).resolve().parents[2]
UNIT = "quranbot.service"
#: Every step after install.sh, run as root inside the container, as the admin types it.
QURANBOT = "/usr/local/bin/quranbot"
TOKEN_COPY = "/root/sandbox-token"
SANDBOX_CERT = "/etc/quranbot/sandbox-cert.pem"
DROP_IN = "/etc/systemd/system/quranbot.service.d/test.conf"
#: The sharded steps: two shards on this machine, one `quranbot@N` each, and the template's drop-in.
SHARDS = 2
SHARD_UNITS = tuple(f"quranbot@{shard}.service" for shard in range(SHARDS))
SHARD_DROP_IN = "/etc/systemd/system/quranbot@.service.d/test.conf"
#: Where this machine keeps the CAs of its egress proxy, and pip's setting that trusts them: a server
#: behind the same proxy needs the same, so they are copied in before install.sh runs.
HOST_LOCAL_CAS = Path("/usr/local/share/ca-certificates")
HOST_PIP_CONF = Path("/etc/pip.conf")

TIMINGS: dict[str, float] = {}


# -- fixtures ------------------------------------------------------------------------------------------


STARTED = time.monotonic()


@pytest.fixture(scope="module", autouse=True)
def as_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("the system stage boots a container: run it as root")


@pytest.fixture(autouse=True)
def in_order(request: pytest.FixtureRequest) -> None:
    """Each step needs the ones before it: once one failed, the rest would only fail confusingly."""
    if request.session.testsfailed:
        pytest.fail("not run: an earlier step of the system stage failed (see the first failure)")


@pytest.fixture(scope="module")
def root() -> Path:
    tools = ensure_host_tools()
    if tools:
        TIMINGS["apt-get install debootstrap systemd-container (host)"] = tools
    built = debian_root()
    if built.build_seconds is not None:
        TIMINGS["debootstrap minbase root"] = built.build_seconds
    return built.path


@pytest.fixture(scope="module")
def discord(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundSandbox]:
    with BackgroundSandbox(tmp_path_factory.mktemp("sandbox")) as running:
        yield running


@pytest.fixture(scope="module")
def shard_guilds(discord: BackgroundSandbox) -> dict[int, DefaultGuild]:
    """A guild for each of SHARDS shards by Discord's rule: the default guild (on the shard its id gives)
    and one more on the other. Added to the sandbox only: the bot hears of it when it next connects."""

    async def add(sandbox: Sandbox) -> dict[int, DefaultGuild]:
        default = sandbox.default
        mine = shard_of(default.guild.id, SHARDS)
        other = 1 - mine
        added = add_guild_with_bot(
            sandbox.world, default.application, f"Shard {other}", shard=(other, SHARDS)
        )
        return {mine: default, other: added}

    return discord.call(add)


@pytest.fixture(scope="module")
def machine(
    root: Path, discord: BackgroundSandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Container]:
    # Asks for the sandbox so that the container (and any bot still running in it after a failed step)
    # stops first: a sandbox stopped under connected bots waits 30 s and adds an error of its own.
    # apt's and pip's downloads survive the volatile container, so later runs fetch little.
    apt_archives, pip_cache = CACHE / "apt-archives", CACHE / "pip"
    (apt_archives / "partial").mkdir(parents=True, exist_ok=True)
    pip_cache.mkdir(parents=True, exist_ok=True)
    log = tmp_path_factory.mktemp("container") / "console.log"
    binds = {apt_archives: "/var/cache/apt/archives", pip_cache: "/root/.cache/pip"}
    with booted(root, {CHECKOUT: "/src"}, binds, log) as container:
        TIMINGS["container boot"] = container.wait_until_booted()
        copy_network_trust(container)
        yield container


def copy_network_trust(container: Container) -> None:
    if HOST_LOCAL_CAS.is_dir():
        target = container.path(str(HOST_LOCAL_CAS))
        target.mkdir(parents=True, exist_ok=True)
        for certificate in HOST_LOCAL_CAS.glob("*.crt"):
            shutil.copy(certificate, target / certificate.name)
    if HOST_PIP_CONF.is_file():
        shutil.copy(HOST_PIP_CONF, container.path(str(HOST_PIP_CONF)))


# -- helpers -------------------------------------------------------------------------------------------


def install_sh(machine: Container, *flags: str) -> subprocess.CompletedProcess[str]:
    return machine.run("bash", "/src/install.sh", *flags, timeout=600)


def stat(machine: Container, path: str) -> str:
    return machine.run("stat", "-c", "%a %U:%G", path).stdout.strip()


def exists(machine: Container, path: str) -> bool:
    return machine.run("test", "-e", path, check=False).returncode == 0


def digest(machine: Container, path: str) -> str:
    return hashlib.sha256(machine.path(path).read_bytes()).hexdigest()


def service(machine: Container) -> dict[str, str]:
    return machine.show(UNIT, "LoadState", "ActiveState", "SubState", "MainPID", "NRestarts", "StatusText")


def wait_for(what: str, check: Callable[[], bool], timeout: float, interval: float = 0.25) -> float:
    """Poll `check()` until true; the seconds it took."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - started


def hear(
    discord: BackgroundSandbox, packets: int = 100, timeout: float = 45.0, guild: DefaultGuild | None = None
) -> float:
    """Forget what the voice channel (the default guild's, or `guild`'s) heard so far, then wait for
    `packets` new ones; the seconds it took."""
    started = time.monotonic()

    async def listen(sandbox: Sandbox) -> None:
        listener = sandbox.voice.reset_listener((guild or sandbox.default).voice.id)
        await listener.wait_for_packets(packets, timeout=timeout)

    discord.call(listen, timeout=timeout + 5)
    return time.monotonic() - started


def assert_recites(discord: BackgroundSandbox, guild: DefaultGuild, why: Callable[[], str] = str) -> None:
    """The guild's voice channel hears the bot anew: 150 packets, 20 ms apart, a sample surah's tone.
    `why()` is added to a failure (e.g. the journal of the unit that should recite there)."""
    try:
        hear(discord, packets=150, guild=guild)
    except TimeoutError:
        raise AssertionError(
            f"{guild.guild.name}'s voice channel heard no 150 new packets\n{why()}"
        ) from None

    async def heard(sandbox: Sandbox) -> tuple[int, float | None, float | None]:
        stats = sandbox.listener(guild.voice).stats(tone_seconds=1.0)
        return stats.packets, stats.median_gap_ms, stats.dominant_hz

    packets, median_gap, tone = discord.call(heard)
    assert packets >= 150
    assert median_gap is not None and 15.0 <= median_gap <= 25.0, f"median gap {median_gap} ms\n{why()}"
    tones = [tone]
    for _ in range(2):  # a second that spans a surah boundary holds two tones, joined: listen again
        if tones[-1] is not None and surah_from_frequency(tones[-1]) is not None:
            break
        hear(discord, packets=60, guild=guild)
        tones.append(discord.call(heard)[2])
    last = tones[-1]
    assert last is not None and surah_from_frequency(last) is not None, f"heard {tones} Hz, no sample surah"


def bot_voice(discord: BackgroundSandbox, guild: DefaultGuild) -> tuple[int | None, tuple[int, int] | None]:
    """Where the bot is in `guild`'s voice (channel id, or None) and the shard `(id, count)` of the
    gateway session that joined it (None: an unsharded one, or not in voice)."""

    async def look(sandbox: Sandbox) -> tuple[int | None, tuple[int, int] | None]:
        state = guild.guild.voice_states.get(guild.bot.user.id)
        if state is None or state.channel_id is None:
            return None, None
        session = sandbox.gateway.sessions.get(state.session_id)
        return state.channel_id, None if session is None else session.shard

    return discord.call(look)


def unit_state(machine: Container, unit: str) -> tuple[str, str]:
    """`(systemctl is-active, systemctl is-enabled)`, e.g. `("active", "enabled")`."""
    active = machine.run("systemctl", "is-active", unit, check=False).stdout.strip()
    enabled = machine.run("systemctl", "is-enabled", unit, check=False).stdout.strip()
    return active, enabled


def journal(machine: Container, *units: str, lines: int = 40) -> str:
    """The units' last journal lines, for a failure message."""
    selected = [arg for unit in units for arg in ("-u", unit)]
    result = machine.run(
        "journalctl", *selected, "-n", str(lines), "--no-pager", "-o", "short-iso", check=False
    )
    return f"--- journal of {', '.join(units)}\n{result.stdout.rstrip() or result.stderr.rstrip()}"


def assert_units(machine: Container, expected: dict[str, tuple[str, str]]) -> None:
    found = {unit: unit_state(machine, unit) for unit in expected}
    assert found == expected, (
        f"(is-active, is-enabled) {found}, expected {expected}\n{journal(machine, *expected)}"
    )


def restarted(machine: Container, before: dict[str, str]) -> Callable[[], bool]:
    """A check: active again, under a new main process, after one more automatic restart."""

    def check() -> bool:
        state = service(machine)
        return (state["ActiveState"] == "active" and state["MainPID"] not in ("0", before["MainPID"])
                and int(state["NRestarts"]) > int(before["NRestarts"]))  # fmt: skip

    return check


# -- the steps -----------------------------------------------------------------------------------------


def test_install_sh_installs_on_a_fresh_server(machine: Container) -> None:
    started = time.monotonic()
    result = install_sh(machine, "--unattended")
    TIMINGS["install.sh, first run (apt + pip)"] = time.monotonic() - started
    assert "QuranBot is installed" in result.stdout
    user = machine.run("getent", "passwd", "quranbot").stdout.strip().split(":")
    assert user[6] == "/usr/sbin/nologin"
    assert machine.run("id", "-gn", "quranbot").stdout.strip() == "quranbot"
    assert stat(machine, "/etc/quranbot") == "750 root:quranbot"
    assert stat(machine, "/var/lib/quranbot") == "700 quranbot:quranbot"
    assert machine.run("readlink", QURANBOT).stdout.strip() == "/opt/quranbot/bin/quranbot"
    assert machine.run(QURANBOT, "--version").stdout.startswith("quranbot ")
    where = machine.run("/opt/quranbot/bin/python", "-c", "import quranbot.cli.app as m; print(m.__file__)")
    assert where.stdout.startswith("/opt/quranbot/lib/"), "installed as a copy, not editable from /src"
    assert exists(machine, "/opt/quranbot/share/quranbot/quranbot.service")


def test_service_commands_explain_what_is_missing(machine: Container) -> None:
    status = machine.run(QURANBOT, "service", "status", check=False)
    assert status.returncode == 3 and "not installed" in status.stdout
    install = machine.run(QURANBOT, "service", "install", check=False)
    assert install.returncode == 1
    assert "run `quranbot setup` first" in install.stderr


def test_setup_saves_the_token_and_the_voice_channel(machine: Container, discord: BackgroundSandbox) -> None:
    sandbox = discord.sandbox
    token = machine.path(TOKEN_COPY)
    token.write_text(sandbox.token + "\n")
    token.chmod(0o600)
    guild, voice = str(sandbox.default.guild.id), str(sandbox.default.voice.id)
    args = ["setup", "--no-prompt", "--token-file", TOKEN_COPY, "--guild", guild, "--voice-channel", voice]
    machine.run(QURANBOT, *args)
    assert stat(machine, "/etc/quranbot/token") == "600 root:root"
    assert stat(machine, "/etc/quranbot/config.toml") == "640 root:quranbot"
    assert voice in machine.path("/etc/quranbot/config.toml").read_text()
    # As the README says: the admin imports a reciter as root (here the sample tones, 10 s a surah).
    machine.run(QURANBOT, "reciter", "sample", "--seconds", "10", timeout=300)


def point_the_service_at_the_sandbox(machine: Container, sandbox: Sandbox) -> None:
    """The test-only drop-in (see the module's docstring) and the sandbox's certificate it names."""
    shutil.copy(sandbox.cert_file, machine.path(SANDBOX_CERT))
    machine.run("chmod", "0640", SANDBOX_CERT)
    machine.run("chgrp", "quranbot", SANDBOX_CERT)
    drop_in = machine.path(DROP_IN)
    drop_in.parent.mkdir(parents=True, exist_ok=True)
    drop_in.write_text(
        "# Test only: the local Discord instead of the real one, and a short watchdog.\n"
        "[Service]\nWatchdogSec=5\nExecStart=\n"
        f"ExecStart={QURANBOT} run --token-file %d/token "
        f"--sandbox {sandbox.url} --sandbox-cert {SANDBOX_CERT}\n"
    )


def test_service_install_shows_why_a_bot_cannot_start(machine: Container, discord: BackgroundSandbox) -> None:
    """A token Discord rejects: the bot exits at once, and install says so with the journal's lines."""
    point_the_service_at_the_sandbox(machine, discord.sandbox)
    token = machine.path("/etc/quranbot/token")
    good = token.read_text()
    token.write_text("MTIzNDU2Nzg5MDEyMzQ1Njc4.rejected.by-the-sandbox\n")
    try:
        result = machine.run(QURANBOT, "service", "install", check=False, timeout=300)
    finally:
        token.write_text(good)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "error: QuranBot did not start (systemctl enable --now quranbot.service failed: Job for"
        in result.stderr
    )
    assert "Discord rejected the bot token (401 Unauthorized)" in result.stderr, "the journal's tail is shown"


def test_service_install_starts_the_bot_and_systemd_sees_it_ready(machine: Container) -> None:
    started = time.monotonic()
    result = machine.run(QURANBOT, "service", "install", timeout=300)
    TIMINGS["quranbot service install -> active (READY=1)"] = time.monotonic() - started
    assert "active (running)" in result.stdout
    unit = machine.path(f"/etc/systemd/system/{UNIT}").read_text()
    assert f"ExecStart={QURANBOT} run --token-file %d/token" in unit
    state = service(machine)
    assert (state["ActiveState"], state["SubState"]) == ("active", "running")
    # Type=notify: "active" means systemd got READY=1; the bot's STATUS= says what it recites.
    assert state["StatusText"].startswith("Reciting "), state
    enabled = machine.run("systemctl", "is-enabled", UNIT).stdout.strip()
    assert enabled == "enabled"
    assert stat(machine, f"/proc/{state['MainPID']}").endswith("quranbot:quranbot"), "runs as its own user"


def test_the_bot_joined_voice_and_the_sandbox_hears_it(discord: BackgroundSandbox) -> None:
    async def bot_channel(sandbox: Sandbox) -> int | None:
        return sandbox.in_voice(sandbox.default.guild, sandbox.default.application.bot.id)

    assert discord.call(bot_channel) == discord.sandbox.default.voice.id
    assert_recites(discord, discord.sandbox.default)


def test_kill_9_gets_the_bot_restarted_and_reciting_again(
    machine: Container, discord: BackgroundSandbox
) -> None:
    before = service(machine)
    started = time.monotonic()
    machine.run("bash", "-c", f"kill -KILL {before['MainPID']}")
    wait_for("systemd to restart the bot", restarted(machine, before), timeout=60)
    hear(discord)
    TIMINGS["kill -9 -> reciting again (RestartSec=5)"] = time.monotonic() - started


def test_a_frozen_bot_is_restarted_by_the_watchdog(machine: Container, discord: BackgroundSandbox) -> None:
    before = service(machine)
    started = time.monotonic()
    machine.run("bash", "-c", f"kill -STOP {before['MainPID']}")
    wait_for("the watchdog to restart the frozen bot", restarted(machine, before), timeout=90)
    hear(discord)
    TIMINGS["SIGSTOP -> watchdog -> reciting again (WatchdogSec=5)"] = time.monotonic() - started
    journal = machine.run("journalctl", "-u", UNIT, "--no-pager", "-o", "cat").stdout
    assert "Watchdog timeout" in journal


def test_service_logs_and_status_show_the_journal_and_the_bot(machine: Container) -> None:
    logs = machine.run(QURANBOT, "service", "logs", "-n", "20")
    lines = [line for line in logs.stdout.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 21, logs.stdout
    assert any(re.search(r"quranbot\[\d+\]:", line) for line in lines), logs.stdout
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", lines[-1]), "short-iso time stamps"
    status = machine.run(QURANBOT, "service", "status")
    assert "active (running)" in status.stdout and "automatic restarts" in status.stdout
    assert "PLAYING" in status.stdout and "#Quran" in status.stdout, status.stdout


def point_the_shards_at_the_sandbox(machine: Container, sandbox: Sandbox) -> None:
    """The template's test-only drop-in: each instance's ExecStart as rendered, plus the sandbox."""
    drop_in = machine.path(SHARD_DROP_IN)
    drop_in.parent.mkdir(parents=True, exist_ok=True)
    drop_in.write_text(
        "# Test only: the local Discord instead of the real one.\n[Service]\nExecStart=\n"
        f"ExecStart={QURANBOT} run --token-file %d/token --shard-ids %i "
        f"--sandbox {sandbox.url} --sandbox-cert {SANDBOX_CERT}\n"
    )


def test_service_install_shards_runs_one_service_per_shard(
    machine: Container, discord: BackgroundSandbox, shard_guilds: dict[int, DefaultGuild]
) -> None:
    """As docs/SCALING.md's "One machine": stop, migrate the state, `service install --shards 2`."""
    started = time.monotonic()
    machine.run(QURANBOT, "service", "stop")
    other = next(g for g in shard_guilds.values() if g is not discord.sandbox.default)
    machine.run(QURANBOT, "setup", "--no-prompt", "--guild", str(other.guild.id),
                "--voice-channel", str(other.voice.id))  # fmt: skip
    machine.run(QURANBOT, "shards", "migrate", "--from-count", "1", "--to-count", str(SHARDS))
    point_the_shards_at_the_sandbox(machine, discord.sandbox)
    result = machine.run(QURANBOT, "service", "install", "--shards", str(SHARDS), timeout=300)
    TIMINGS["stop, migrate, service install --shards 2 -> both active"] = time.monotonic() - started
    assert f"config.toml: shard_count = {SHARDS}; this machine runs {', '.join(SHARD_UNITS)}" in result.stdout
    assert f"Disabling {UNIT}: the shards take over its guilds" in result.stdout
    template = machine.path("/etc/systemd/system/quranbot@.service").read_text()
    assert f"ExecStart={QURANBOT} run --token-file %d/token --shard-ids %i" in template
    assert_units(
        machine, {**dict.fromkeys(SHARD_UNITS, ("active", "enabled")), UNIT: ("inactive", "disabled")}
    )
    for shard, unit in enumerate(SHARD_UNITS):
        state = machine.show(unit, "SubState", "StatusText", "MainPID")
        assert state["SubState"] == "running" and state["StatusText"].startswith("Reciting "), state
        assert stat(machine, f"/proc/{state['MainPID']}").endswith("quranbot:quranbot"), (
            "runs as its own user"
        )
        marker = machine.path(f"/var/lib/quranbot/shard-{shard}/shard.json").read_text()
        assert f'"shard_count": {SHARDS}' in marker, marker


def test_each_shard_recites_its_own_guild_and_status_shows_both(
    machine: Container, discord: BackgroundSandbox, shard_guilds: dict[int, DefaultGuild]
) -> None:
    for shard, guild in sorted(shard_guilds.items()):
        unit = SHARD_UNITS[shard]
        where = bot_voice(discord, guild)
        assert where == (guild.voice.id, (shard, SHARDS)), (
            f"{guild.guild.name} (shard {shard}): the bot is in {where}, not its voice channel through shard "
            f"{shard}'s session\n{journal(machine, unit)}"
        )
        assert_recites(discord, guild, lambda unit=unit: journal(machine, unit))

    result = machine.run(QURANBOT, "status", "--json")
    report = json.loads(result.stdout)
    assert report["shard_count"] == SHARDS, report
    assert [entry["shard"] for entry in report["shards"]] == list(range(SHARDS)), report
    for entry in report["shards"]:
        shard = entry["shard"]
        assert entry["running"], f"shard {shard} is not running: {entry.get('error')}"
        assert str(entry["stats"]["pid"]) == machine.show(SHARD_UNITS[shard], "MainPID")["MainPID"]
        guilds = {int(g["guild_id"]): g["state"] for g in entry["status"]["guilds"]}
        assert guilds == {shard_guilds[shard].guild.id: "playing"}, (shard, guilds)
    text = machine.run(QURANBOT, "status").stdout
    for shard in range(SHARDS):
        assert re.search(rf"── shard {shard}: running, 1 guilds, pid \d+", text), text


def test_fewer_shard_ids_retire_the_instance_the_machine_no_longer_runs(
    machine: Container, discord: BackgroundSandbox, shard_guilds: dict[int, DefaultGuild]
) -> None:
    """`--shards 1` is refused (no sharding is leaving shard_count out); `--shard-ids 0` keeps shard 0
    here (shard 1 would run on another machine) and stops and disables quranbot@1; a plain `service
    install` (what install.sh's upgrade runs) then keeps to config.toml's shards."""
    refused = machine.run(QURANBOT, "service", "install", "--shards", "1", check=False)
    assert refused.returncode == 1 and "--shards: 1 is no sharding" in refused.stderr, refused.stderr
    started = time.monotonic()
    result = machine.run(
        QURANBOT, "service", "install", "--shards", str(SHARDS), "--shard-ids", "0", timeout=300
    )
    TIMINGS["service install --shards 2 --shard-ids 0 (retires quranbot@1)"] = time.monotonic() - started
    assert "Disabling quranbot@1.service: this machine no longer runs those shards" in result.stdout
    retired = {SHARD_UNITS[0]: ("active", "enabled"), SHARD_UNITS[1]: ("inactive", "disabled"),
               UNIT: ("inactive", "disabled")}  # fmt: skip
    assert_units(machine, retired)
    assert not exists(machine, "/etc/systemd/system/multi-user.target.wants/quranbot@1.service")
    assert bot_voice(discord, shard_guilds[1]) == (None, None), "shard 1 left voice when it stopped"
    assert_recites(discord, shard_guilds[0], lambda: journal(machine, SHARD_UNITS[0]))

    again = machine.run(QURANBOT, "service", "install", timeout=300)
    assert f"config.toml says shard_count = {SHARDS}: installing the shards" in again.stdout
    assert_units(machine, retired)


def test_back_to_one_process_retires_every_shard(
    machine: Container, discord: BackgroundSandbox, shard_guilds: dict[int, DefaultGuild]
) -> None:
    """Stop, migrate back to one state, remove the shard keys, `service install`: the unsharded unit
    recites every guild again and no `quranbot@N` is left to start at the next boot."""
    started = time.monotonic()
    machine.run(QURANBOT, "service", "stop")
    machine.run(QURANBOT, "shards", "migrate", "--from-count", str(SHARDS), "--to-count", "1")
    machine.run(QURANBOT, "config", "set", "shard_ids", "none")
    machine.run(QURANBOT, "config", "set", "shard_count", "none")
    result = machine.run(QURANBOT, "service", "install", timeout=300)
    TIMINGS["stop, migrate back, service install -> unsharded"] = time.monotonic() - started
    assert "active (running)" in result.stdout
    assert_units(
        machine, {UNIT: ("active", "enabled"), **dict.fromkeys(SHARD_UNITS, ("inactive", "disabled"))}
    )
    for guild in shard_guilds.values():
        assert bot_voice(discord, guild) == (guild.voice.id, None), (
            f"{guild.guild.name}: not the unsharded bot"
        )
        assert_recites(discord, guild, lambda: journal(machine, UNIT))
    # The test-only drop-in goes; the template stays until the uninstall, as an admin's would.
    machine.path(SHARD_DROP_IN).unlink()
    machine.path(SHARD_DROP_IN).parent.rmdir()
    machine.run("systemctl", "daemon-reload")


def test_install_sh_again_upgrades_in_place_and_keeps_config_and_state(
    machine: Container, discord: BackgroundSandbox
) -> None:
    kept = [
        "/etc/quranbot/config.toml",
        "/etc/quranbot/token",
        "/var/lib/quranbot/audio/sample-tones/manifest.json",
    ]
    before = {path: digest(machine, path) for path in kept}
    state_files = sorted(p.name for p in machine.path("/var/lib/quranbot").glob("*.json"))
    assert state_files, "the bot has written its state"
    old_pid = service(machine)["MainPID"]
    started = time.monotonic()
    result = install_sh(machine, "--unattended")
    TIMINGS["install.sh, second run (upgrade, service restarted)"] = time.monotonic() - started
    assert "Reusing the virtual environment /opt/quranbot" in result.stdout
    assert "all installed; skipping apt" in result.stdout
    assert {path: digest(machine, path) for path in kept} == before
    assert sorted(p.name for p in machine.path("/var/lib/quranbot").glob("*.json")) == state_files
    # The sample was imported as root: the repair gave it to the bot's user.
    assert stat(machine, "/var/lib/quranbot/audio/sample-tones/manifest.json").endswith("quranbot:quranbot")
    state = service(machine)
    assert state["ActiveState"] == "active" and state["MainPID"] != old_pid, "restarted on the new code"
    hear(discord)


def test_uninstall_removes_the_service_and_keeps_config_and_state(
    machine: Container, discord: BackgroundSandbox
) -> None:
    result = install_sh(machine, "--uninstall", "--unattended")
    assert "QuranBot is uninstalled" in result.stdout
    assert service(machine)["LoadState"] == "not-found"
    for gone in (f"/etc/systemd/system/{UNIT}", "/opt/quranbot", QURANBOT):
        assert not exists(machine, gone), gone
    for kept in ("/etc/quranbot/config.toml", "/etc/quranbot/token", "/var/lib/quranbot/audio"):
        assert exists(machine, kept), kept
    assert machine.run("getent", "passwd", "quranbot", check=False).returncode == 0

    async def bot_channel(sandbox: Sandbox) -> int | None:
        return sandbox.in_voice(sandbox.default.guild, sandbox.default.application.bot.id)

    assert discord.call(bot_channel) is None, "the bot left voice when the service stopped"


def test_purge_leaves_a_final_backup_and_nothing_else(machine: Container) -> None:
    started = time.monotonic()
    install_sh(machine, "--unattended")  # back again on the kept config and state, without the service
    TIMINGS["install.sh after an uninstall"] = time.monotonic() - started
    assert service(machine)["LoadState"] == "not-found", "reinstalling does not start a service by itself"
    result = install_sh(machine, "--uninstall", "--purge", "--unattended")
    match = re.search(r"Final backup: (/root/quranbot-final-backup-\S+)", result.stdout)
    assert match, result.stdout
    backup = machine.path(match.group(1))
    names = sorted(p.name for p in backup.iterdir())
    assert "config.toml" in names and any(name.endswith(".zip") for name in names), names
    for gone in ("/etc/quranbot", "/var/lib/quranbot", "/opt/quranbot", QURANBOT, DROP_IN):
        assert not exists(machine, gone), gone
    assert machine.run("getent", "passwd", "quranbot", check=False).returncode != 0


def test_report_the_timings(capsys: pytest.CaptureFixture[str]) -> None:
    TIMINGS["whole stage, from collection"] = time.monotonic() - STARTED
    with capsys.disabled():
        print("\nsystem stage timings:")
        for what, seconds in TIMINGS.items():
            print(f"  {seconds:7.1f} s  {what}")
