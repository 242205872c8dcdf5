"""`quranbot doctor`'s checks: each looks at one thing the bot needs, for real, and says how to fix it.

"For real" means ffmpeg encodes a test tone, libopus encodes a frame, the state files are parsed, the
socket is asked for a ping. A check never prints a secret: the token check reports its shape and its
file's mode, not its value.
"""

from __future__ import annotations

import asyncio
import datetime
import importlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal

from quranbot.audio.library import Library
from quranbot.audio.tone import FfmpegMissing, write_tone
from quranbot.config.load import load_config
from quranbot.config.schema import ConfigError
from quranbot.config.token import TokenError, read_token
from quranbot.config.token import check_token as check_token_format
from quranbot.control.client import BotNotRunning, ControlClient, ControlError
from quranbot.control.machine import BotSocket, machine_bots
from quranbot.metrics.address import LOOPBACK, parse_listen
from quranbot.metrics.server import exposure_warning
from quranbot.paths import Paths
from quranbot.quiz.bank import load_imported, shipped_sources
from quranbot.shards.layout import LayoutMismatch, check_layout, shard_dirs
from quranbot.store.layout import state_file_paths
from quranbot.store.storage import CorruptStateFile, parse_state_bytes

Status = Literal["ok", "warn", "fail"]
MIN_FREE_BYTES = 500 * 1024 * 1024
#: A clock before this is certainly wrong (TLS to Discord would fail on certificate dates).
EARLIEST_SANE = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
SYSTEMD_RUNNING = Path("/run/systemd/system")


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def check_python() -> Check:
    """Informational: the package itself requires 3.11+, so an older Python could not have installed it."""
    return Check("Python", "ok", f"{'.'.join(map(str, sys.version_info[:3]))} at {sys.executable}")


def check_ffmpeg() -> Check:
    """Encode half a second of tone to Ogg Opus: what `reciter import` needs ffmpeg for."""
    try:
        with tempfile.TemporaryDirectory(prefix="quranbot-doctor-") as tmp:
            path = write_tone(Path(tmp) / "tone.ogg", 440.0, 0.5)
            size = path.stat().st_size
    except FfmpegMissing as exc:
        return Check("ffmpeg", "fail", str(exc), "sudo apt-get install ffmpeg (or run install.sh again)")
    except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
        return Check("ffmpeg", "fail", f"could not encode a test tone: {exc}", "reinstall ffmpeg")
    return Check("ffmpeg", "ok", f"{shutil.which('ffmpeg')} encodes Opus ({size} bytes for 0.5 s)")


def check_libopus() -> Check:
    """discord.py needs libopus only for PCM sources, but the sandbox and the import check use it too."""
    try:
        from discord import opus

        if not opus.is_loaded():
            opus._load_default()
        encoder = opus.Encoder()
        packet = encoder.encode(b"\0" * opus.Encoder.FRAME_SIZE, opus.Encoder.SAMPLES_PER_FRAME)
    except Exception as exc:
        return Check("libopus", "fail", f"cannot encode a frame: {exc}", "sudo apt-get install libopus0")
    return Check("libopus", "ok", f"encodes a 20 ms frame ({len(packet)} bytes)")


def check_voice_libraries() -> Check:
    missing = []
    for module in ("nacl.secret", "davey"):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            missing.append(f"{module} ({exc})")
    if missing:
        return Check(
            "voice encryption",
            "fail",
            "cannot import " + ", ".join(missing),
            "reinstall: /opt/quranbot/bin/pip install 'discord.py[voice]' (or run install.sh)",
        )
    return Check("voice encryption", "ok", "PyNaCl and davey import")


def check_token(paths: Paths) -> Check:
    """Read and shape-checked exactly as `quranbot run` and `setup` do it; the value never leaves."""
    path = paths.token_file
    if not path.exists():
        return Check("token", "fail", f"no token file at {path}", "run `quranbot setup`")
    try:
        token = check_token_format(read_token(path).reveal())
    except TokenError as exc:
        return Check("token", "fail", f"{path}: {exc}", "run `quranbot setup` (or doctor as root)")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return Check(
            "token", "warn", f"{path} is mode {mode:04o}: others may read the token", f"chmod 600 {path}"
        )
    return Check(
        "token", "ok", f"{path}: a well-formed token ({len(token.reveal())} characters), mode {mode:04o}"
    )


def check_config(paths: Paths) -> Check:
    path = paths.config_file
    try:
        config = load_config(path)
    except ConfigError as exc:
        return Check("config", "fail", str(exc), "fix it with `quranbot config set`, or run `quranbot setup`")
    if not path.exists():
        return Check("config", "warn", f"no {path} yet: defaults apply", "run `quranbot setup`")
    guilds = len(config.guilds)
    return Check("config", "ok", f"{path}: valid, {guilds} server(s) with a voice channel")


def check_metrics(paths: Paths) -> Check:
    """Off, on this machine only, or reachable from other machines: allowed, but said plainly."""
    try:
        listen = load_config(paths.config_file).metrics_listen
    except ConfigError:
        return Check("metrics", "warn", "not checked: config.toml does not load (see config)")
    if listen is None:
        return Check("metrics", "ok", "off (metrics.listen is not set)")
    address = parse_listen(listen)
    warning = exposure_warning(address)
    if warning is not None:
        fix = (
            f"firewall port {address.port}, or: quranbot config set metrics.listen {LOOPBACK}:{address.port}"
        )
        return Check("metrics", "warn", warning, fix)
    return Check("metrics", "ok", f"{address.url}, this machine only")


def check_state(paths: Paths) -> Check:
    state = paths.state_dir
    if not state.exists():
        return Check(
            "state", "warn", f"{state} does not exist yet", "it is created when the bot first starts"
        )
    if not os.access(state, os.W_OK | os.X_OK):
        return Check(
            "state",
            "fail",
            f"{state} is not writable by this user",
            f"chown -R quranbot: {state} (or run doctor as the bot's user)",
        )
    problems, loaded = [], 0
    for path in state_file_paths(state):
        if not path.exists():
            continue
        try:
            parse_state_bytes(path, path.read_bytes())
            loaded += 1
        except (OSError, CorruptStateFile) as exc:
            problems.append(str(exc))
    if problems:
        return Check(
            "state",
            "fail",
            "; ".join(problems),
            "start the bot: it repairs the file from the newest good backup",
        )
    return Check("state", "ok", f"{state}: writable, {loaded} state file(s) load")


def check_reciters(paths: Paths) -> Check:
    library = Library(paths.audio_dir)
    reciters = library.reciters()
    if library.problems:
        return Check("reciters", "warn", "; ".join(library.problems), "import the reciter again")
    if not reciters:
        return Check(
            "reciters",
            "fail",
            f"none imported in {paths.audio_dir}",
            "quranbot reciter import FOLDER_OR_ZIP (or `quranbot reciter sample` to try)",
        )
    missing = [f"{r.name}: {t.file}" for r in reciters for t in r.tracks.values() if not r.path(t).exists()]
    names = ", ".join(f"{r.name} ({len(r.surahs())} surahs)" for r in reciters)
    if missing:
        return Check(
            "reciters",
            "fail",
            f"{len(missing)} track file(s) missing, e.g. {missing[0]}",
            "quranbot reciter verify NAME, then import it again",
        )
    return Check("reciters", "ok", names + "; `quranbot reciter verify NAME` checks every frame")


def check_quiz_banks(paths: Paths) -> Check:
    """The quiz's questions, and any imported bank the bot would skip (edited by hand since, say)."""
    names = (
        sorted(p.name for p in paths.quiz_banks_dir.glob("*.toml")) if paths.quiz_banks_dir.is_dir() else []
    )
    sources, refused = load_imported(paths.quiz_banks_dir, names)
    total = sum(len(s.questions) for s in sources)
    imported = len(sources) - len(shipped_sources())
    if refused:
        first = next(iter(refused.values()))[0]
        return Check(
            "quiz banks",
            "warn",
            f"{len(refused)} imported bank(s) not loaded, e.g. {first}",
            "quranbot quiz validate FILE lists every problem; fix the file and import it again (--force)",
        )
    return Check("quiz banks", "ok", f"{total:,} questions ({imported} imported bank(s))")


def check_service() -> Check:
    if shutil.which("systemctl") is None or not Path("/run/systemd/system").is_dir():
        return Check("service", "warn", "systemd is not running here", "run the bot with `quranbot run`")
    state = subprocess.run(
        ["systemctl", "is-active", "quranbot.service"], capture_output=True, text=True, timeout=10
    ).stdout.strip()
    if state == "active":
        return Check("service", "ok", "quranbot.service is active")
    return Check(
        "service",
        "fail",
        f"quranbot.service is {state or 'unknown'}",
        "sudo quranbot service install (or: quranbot service start; quranbot service logs)",
    )


def check_shard_services(shards: list[int], count: int | None, systemd: Path = SYSTEMD_RUNNING) -> Check:
    """Sharded, the machine's `quranbot@N` instances instead of `quranbot.service`: every one active."""
    if shutil.which("systemctl") is None or not systemd.is_dir():
        return Check("service", "warn", "systemd is not running here", "run each shard with `quranbot run`")
    units = [f"quranbot@{shard}.service" for shard in shards]
    answered = subprocess.run(
        ["systemctl", "is-active", *units], capture_output=True, text=True, timeout=10
    ).stdout.split()
    states = dict(zip(units, [*answered, *["unknown"] * len(units)], strict=False))
    down = [f"{unit} is {state}" for unit, state in states.items() if state != "active"]
    if not down:
        return Check("service", "ok", f"{', '.join(units)}: active")
    return Check(
        "service",
        "fail",
        "; ".join(down) + f" ({len(units) - len(down)} of {len(units)} shard(s) active)",
        f"sudo quranbot service install --shards {count or 'COUNT'} (or: quranbot service start; "
        "quranbot service logs)",
    )


def check_shard_layout(paths: Paths) -> Check:
    """The state is laid out for config.toml's shard count (a shard refuses to start otherwise)."""
    try:
        count = load_config(paths.config_file).shard_count
    except ConfigError as exc:
        return Check("shard layout", "warn", f"not checked: {exc}", "fix config.toml first")
    try:
        check_layout(paths, count)
    except LayoutMismatch as exc:
        return Check("shard layout", "fail", str(exc), "run the migration it names, with every bot stopped")
    dirs = ", ".join(f"{d.path.name} ({'no count yet' if d.count is None else f'of {d.count}'})"
                     for d in shard_dirs(paths.state_root))  # fmt: skip
    return Check("shard layout", "ok", f"shard_count = {count}; {dirs or 'no shard has run yet'}")


def for_shard(check: Check, shard: int | None) -> Check:
    """A check of one shard's state or socket, named for it (`state, shard 1`)."""
    return check if shard is None else replace(check, name=f"{check.name}, shard {shard}")


def check_socket(paths: Paths) -> Check:
    async def ping() -> dict[str, Any]:
        client = await ControlClient.connect(paths.control_socket, timeout=3)
        try:
            result: dict[str, Any] = await client.call("stats", timeout=3)
            return result
        finally:
            await client.close()

    try:
        stats = asyncio.run(ping())
    except BotNotRunning as exc:
        return Check("control socket", "warn", str(exc), "start the bot; `quranbot status` then works")
    except PermissionError as exc:
        return Check(
            "control socket", "fail", str(exc), "run doctor as root or as a member of the bot's group"
        )
    except (ControlError, TimeoutError, OSError) as exc:
        return Check("control socket", "fail", f"{paths.control_socket}: {exc}", "restart the bot")
    return Check(
        "control socket",
        "ok",
        f"the bot answers (pid {stats['pid']}, {stats['voice_connected']} voice connection(s))",
    )


def check_disk(paths: Paths) -> Check:
    where = paths.state_dir if paths.state_dir.exists() else paths.state_dir.parent
    while not where.exists():
        where = where.parent
    usage = shutil.disk_usage(where)
    free_mib = usage.free // (1024 * 1024)
    if usage.free < MIN_FREE_BYTES:
        return Check(
            "disk",
            "warn",
            f"only {free_mib} MiB free under {where}",
            "free space: imports and backups need room (old backups are pruned by themselves)",
        )
    return Check("disk", "ok", f"{free_mib:,} MiB free under {where}")


def check_clock() -> Check:
    now = datetime.datetime.now(datetime.UTC)
    if now < EARLIEST_SANE:
        return Check(
            "clock", "fail", f"the clock says {now:%Y-%m-%d}", "set the time: timedatectl set-ntp true"
        )
    synced = None
    if shutil.which("timedatectl") and Path("/run/systemd/system").is_dir():
        result = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        synced = result.stdout.strip() == "yes"
    if synced is False:
        return Check(
            "clock", "warn", f"{now:%Y-%m-%d %H:%M} UTC, not synchronised by NTP", "timedatectl set-ntp true"
        )
    return Check("clock", "ok", f"{now:%Y-%m-%d %H:%M} UTC")


def _shard_check(check: Callable[[Paths], Check], bot: BotSocket) -> Check:
    return for_shard(check(bot.paths), bot.shard)


def run_checks(paths: Paths, extra: list[Callable[[], Check]] | None = None) -> list[Check]:
    """Every check; sharded (docs/SCALING.md), the state and the socket of each shard of the machine,
    its `quranbot@N` units and the state's layout instead of the unsharded bot's."""
    bots = machine_bots(paths)
    state: list[Callable[[], Check]] = [lambda: check_state(paths)]
    service: list[Callable[[], Check]] = [check_service]
    socket: list[Callable[[], Check]] = [lambda: check_socket(paths)]
    if bots.sharded:
        shards = [bot.shard for bot in bots.sockets if bot.shard is not None]
        state = [lambda: check_shard_layout(paths)]
        state += [partial(_shard_check, check_state, bot) for bot in bots.sockets]
        service = [lambda: check_shard_services(shards, bots.shard_count)]
        socket = [partial(_shard_check, check_socket, bot) for bot in bots.sockets]
    checks: list[Callable[[], Check]] = [
        check_python,
        check_ffmpeg,
        check_libopus,
        check_voice_libraries,
        lambda: check_config(paths),
        lambda: check_metrics(paths),
        lambda: check_token(paths),
        *state,
        lambda: check_reciters(paths),
        lambda: check_quiz_banks(paths),
        *service,
        *socket,
        lambda: check_disk(paths),
        check_clock,
        *(extra or []),
    ]
    results = []
    for check in checks:
        try:
            results.append(check())
        except Exception as exc:  # a check that breaks is itself a finding, not a crash
            name = getattr(check, "__name__", "check").removeprefix("check_")
            results.append(Check(name, "fail", f"the check itself failed: {exc!r}"))
    return results
