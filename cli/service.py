"""`quranbot service ...`: QuranBot under systemd: install the unit, start and stop it, its state and logs.

Everything goes through `systemctl` and `journalctl`, so what these commands report is what systemd
knows. The unit is systemd/quranbot.service with ExecStart pointing at the installed `quranbot`; with
shards (config.toml's shard_count, docs/SCALING.md) it is the template systemd/quranbot@.service, one
instance per shard this machine runs (`install --shards N` sets them up), and every command acts on
all of them. The service always uses the system paths (/etc/quranbot, /var/lib/quranbot,
/run/quranbot), whatever --home says: systemd runs it, not this shell.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from quranbot.atomic_file import atomic_write_bytes
from quranbot.cli.output import err, fail, out
from quranbot.cli.status import guild_panel
from quranbot.config.keys import check_shards
from quranbot.config.load import load_config
from quranbot.config.rules import BadValue, shard_count, shard_ids
from quranbot.config.schema import Config, ConfigError
from quranbot.config.write import write_config
from quranbot.control.client import BotNotRunning, ControlClient, ControlError
from quranbot.paths import Paths
from quranbot.shards.layout import LayoutMismatch, check_layout

UNIT_NAME = "quranbot.service"
#: The shards' template unit: instance N runs shard N (`--shard-ids %i`).
TEMPLATE_NAME = "quranbot@.service"
SERVICE_USER = "quranbot"
#: Present only when systemd is PID 1 (what sd_booted() checks).
SYSTEMD_RUNNING = Path("/run/systemd/system")
UNIT_DIR = Path("/etc/systemd/system")
#: Where install.sh puts the command; the unit template's ExecStart names it too.
WRAPPER = Path("/usr/local/bin/quranbot")
#: This checkout, when installed in editable mode (a wheel has no systemd/ folder beside the package).
CHECKOUT = Path(__file__).resolve().parent.parent
#: ProtectHome=yes hides these from the service: an ExecStart there could not even be executed.
HIDDEN_FROM_SERVICE = (Path("/home"), Path("/root"), Path("/run/user"))
#: What `status` shows, as `systemctl show` names it.
PROPERTIES = ("LoadState", "UnitFileState", "ActiveState", "SubState", "Result", "MainPID", "NRestarts",
              "ActiveEnterTimestamp", "StatusText")  # fmt: skip
#: `status`'s exit code when the service is not active (as `systemctl status` uses it).
NOT_ACTIVE = 3
JOURNAL_LINES_ON_FAILURE = 20

service_app = typer.Typer(
    help="Run QuranBot as a systemd service: install, start, stop, restart, status, logs, uninstall.",
    no_args_is_help=True,
)


class ServiceError(Exception):
    """Why a service command cannot go on; the message says what to do."""


# -- preconditions -------------------------------------------------------------------------------------


def require_systemd(marker: Path = SYSTEMD_RUNNING) -> None:
    """Fail clearly on a machine (or container) where systemd is not PID 1: systemctl would only error."""
    if not marker.is_dir():
        raise ServiceError(
            f"systemd is not running on this machine (no {marker}), so there is no service to manage. "
            "Run the bot in the foreground with `quranbot run` instead."
        )
    if shutil.which("systemctl") is None:
        raise ServiceError("systemd is running but `systemctl` is not on PATH")


def require_root(action: str, euid: int | None = None) -> None:
    """Changing a system service needs root; say so before systemctl asks for a password or refuses."""
    if (os.geteuid() if euid is None else euid) != 0:
        raise ServiceError(f"`quranbot service {action}` changes the system service: run it as root "
                           f"(sudo quranbot service {action})")  # fmt: skip


def require_token(token_file: Path) -> None:
    """The unit loads the token as a credential: without the file the service could never start."""
    if not token_file.is_file():
        raise ServiceError(f"No bot token at {token_file}: run `quranbot setup` first (it saves it there)")


def require_user(name: str = SERVICE_USER) -> None:
    """User=quranbot in the unit: systemd would fail with status 217/USER without it."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        raise ServiceError(f"No system user {name!r}: run install.sh first (it creates it)") from None


# -- the unit file -------------------------------------------------------------------------------------


def unit_template(prefix: Path = Path(sys.prefix), checkout: Path = CHECKOUT, name: str = UNIT_NAME) -> Path:
    """The unit to render: install.sh copies it into the venv's share/quranbot/ (a wheel carries no
    top-level systemd/ folder); an editable install reads the checkout's systemd/."""
    candidates = (prefix / "share" / "quranbot" / name, checkout / "systemd" / name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ServiceError(f"The unit template is missing (looked for {' and '.join(map(str, candidates))}): "
                       "re-run install.sh")  # fmt: skip


def installed_executable(wrapper: Path = WRAPPER, argv0: str | None = None) -> Path:
    """The `quranbot` the service should run: install.sh's wrapper, else the command running now."""
    if wrapper.is_file() and os.access(wrapper, os.X_OK):
        return wrapper
    argv0 = sys.argv[0] if argv0 is None else argv0
    candidate = Path(argv0).resolve()
    for hidden in HIDDEN_FROM_SERVICE:
        if candidate.is_relative_to(hidden):
            raise ServiceError(f"{candidate} is under {hidden}, which the service cannot see "
                               f"(ProtectHome=yes): run install.sh, which installs {wrapper}")  # fmt: skip
    if candidate.name != "quranbot" or not candidate.is_file() or not os.access(candidate, os.X_OK):
        raise ServiceError(f"Cannot find the installed `quranbot` ({wrapper} is missing and this command "
                           f"runs as {argv0}): run install.sh, which creates {wrapper}")  # fmt: skip
    return candidate


def systemd_quote(path: Path) -> str:
    """A path as ExecStart's first word: `%` starts a specifier, spaces need quotes (systemd expands
    `$` only in the arguments, so it stays as it is)."""
    text = str(path)
    if re.fullmatch(r"[A-Za-z0-9/._+-]+", text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def render_unit(template: str, executable: Path) -> str:
    """The template with ExecStart's program replaced by `executable`, and a note on where it came from."""
    placeholder = f"ExecStart={WRAPPER} "
    starts = [line for line in template.splitlines() if line.startswith("ExecStart=")]
    if len(starts) != 1 or not starts[0].startswith(placeholder):
        raise ServiceError(f"The unit template should have one `{placeholder}...` line; it has {starts}")
    rendered = template.replace(placeholder, f"ExecStart={systemd_quote(executable)} ", 1)
    note = ("# Written by `quranbot service install`; it is overwritten on the next install or upgrade.\n"
            "# Change settings with a drop-in instead: systemctl edit quranbot\n")  # fmt: skip
    return note + rendered


def write_unit(text: str, unit_dir: Path = UNIT_DIR, name: str = UNIT_NAME) -> bool:
    """Write the unit atomically (systemd never reads half a file); True when its content changed."""
    path = unit_dir / name
    try:
        if path.read_text() == text:
            return False
    except FileNotFoundError:
        pass
    atomic_write_bytes(path, text.encode(), mode=0o644)
    return True


# -- talking to systemd --------------------------------------------------------------------------------


def systemctl(*args: str) -> None:
    """Run systemctl; its own error message is the clearest explanation, so it is passed on (without
    the progress lines, such as `Created symlink ...`, that `enable` prints before failing)."""
    result = subprocess.run(["systemctl", *args], capture_output=True, text=True)
    if result.returncode != 0:
        lines = (result.stderr.strip() or result.stdout.strip()).splitlines()
        reason = " ".join(line for line in lines if not line.startswith(("Created symlink", "See ")))
        raise ServiceError(f"systemctl {' '.join(args)} failed: {reason or 'no reason given'}")


def show(properties: tuple[str, ...] = PROPERTIES, unit: str = UNIT_NAME) -> dict[str, str]:
    """The unit's properties as systemd reports them (`systemctl show`)."""
    result = subprocess.run(["systemctl", "show", unit, "-p", ",".join(properties)],
                            capture_output=True, text=True)  # fmt: skip
    if result.returncode != 0:
        raise ServiceError(f"systemctl show {unit} failed: {result.stderr.strip()}")
    pairs = (line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return {key: value for key, value in pairs}


def shard_unit(shard: int) -> str:
    return f"quranbot@{shard}.service"


def machine_units(config: Config) -> tuple[str, ...]:
    """The units this machine runs: one per shard of config.toml's (`shard_ids`, else all of
    `shard_count`), or the one unsharded unit."""
    shards = config.machine_shards
    return tuple(shard_unit(shard) for shard in shards) if shards else (UNIT_NAME,)


def system_units() -> tuple[str, ...]:
    try:
        return machine_units(load_config(Paths.system().config_file))
    except ConfigError as exc:
        raise ServiceError(str(exc)) from None


def require_installed(units: tuple[str, ...] = (UNIT_NAME,)) -> None:
    for unit in units:
        if show(("LoadState",), unit).get("LoadState") == "not-found":
            raise ServiceError(f"{unit} is not installed: sudo quranbot service install")


def journal_command(lines: int, follow: bool, units: tuple[str, ...] = (UNIT_NAME,)) -> list[str]:
    command = [
        "journalctl",
        *(arg for unit in units for arg in ("-u", unit)),
        "-n",
        str(lines),
        "-o",
        "short-iso",
    ]
    return [*command, "-f"] if follow else command


def recent_journal(lines: int = JOURNAL_LINES_ON_FAILURE, units: tuple[str, ...] = (UNIT_NAME,)) -> str:
    result = subprocess.run(
        [*journal_command(lines, follow=False, units=units), "--no-pager"], capture_output=True, text=True
    )
    return result.stdout.rstrip() or result.stderr.rstrip()


def start(*verb: str, units: tuple[str, ...] = (UNIT_NAME,)) -> None:
    """`systemctl start|restart|enable --now`: blocks until READY=1 (Type=notify) from every unit, or a
    start failed."""
    with out.status("Starting QuranBot: systemd waits until it is logged in and reciting…"):
        try:
            systemctl(*verb, *units)
        except ServiceError as exc:
            for unit in units:
                err.print(escape(describe(show(unit=unit), unit)), highlight=False, soft_wrap=True)
            err.print(escape(recent_journal(units=units)), highlight=False, soft_wrap=True)
            raise ServiceError(f"QuranBot did not start ({exc}). The journal's last lines are above; once "
                               "the cause is fixed: sudo quranbot service restart") from None  # fmt: skip
    for unit in units:
        if show(("ActiveState",), unit).get("ActiveState") != "active":
            raise ServiceError(f"{unit} did not stay active: {describe(show(unit=unit), unit)}")


# -- status --------------------------------------------------------------------------------------------


def describe(state: dict[str, str], unit: str = UNIT_NAME) -> str:
    """One line, e.g. `quranbot.service: active (running) since ..., pid 812, 0 restarts, enabled`."""
    if state.get("LoadState") == "not-found":
        return f"{unit}: not installed"
    line = f"{unit}: {state.get('ActiveState', '?')} ({state.get('SubState', '?')})"
    if state.get("ActiveState") == "active" and state.get("ActiveEnterTimestamp"):
        line += f" since {state['ActiveEnterTimestamp']}"
    if state.get("MainPID", "0") != "0":
        line += f", pid {state['MainPID']}"
    line += f", {state.get('NRestarts', '0')} automatic restarts"
    if state.get("Result", "success") != "success":
        line += f", last result: {state['Result']}"
    if state.get("UnitFileState"):
        line += f", {state['UnitFileState']} at boot"
    if state.get("StatusText"):
        line += f"\n  systemd status: {state['StatusText']}"
    return line


async def bot_status(socket: Path) -> dict[str, Any]:
    client = await ControlClient.connect(socket, timeout=3.0)
    try:
        result: dict[str, Any] = await client.call("status", timeout=5.0)
        return result
    finally:
        await client.close()


def print_bot_status(socket: Path) -> None:
    """The bot's own view (what it recites, who listens), or why the control socket cannot tell."""
    try:
        status = asyncio.run(bot_status(socket))
    except (BotNotRunning, PermissionError, ControlError, TimeoutError, OSError) as exc:
        out.print(f"The bot's control socket is not reachable: {escape(str(exc))}", soft_wrap=True)
        return
    for guild in status["guilds"]:
        out.print(guild_panel(guild))
    if not status["guilds"]:
        out.print("The bot answers, but no guild is reciting yet (connecting, or no voice channel set up).")


def print_status(socket: Path, unit: str = UNIT_NAME) -> bool:
    """systemd's state, then the bot's; True when the service is active."""
    state = show(unit=unit)
    out.print(escape(describe(state, unit)), highlight=False, soft_wrap=True)
    if state.get("LoadState") != "not-found":
        print_bot_status(socket)
    return state.get("ActiveState") == "active"


def print_machine_status(units: tuple[str, ...]) -> bool:
    """Each unit's state and its bot's (a shard's socket is its own); True when every one is active."""
    system = Paths.system()
    active = []
    for unit in units:
        shard = None if unit == UNIT_NAME else int(unit.removeprefix("quranbot@").removesuffix(".service"))
        active.append(print_status(system.for_shard(shard).control_socket, unit))
    return all(active)


# -- the commands --------------------------------------------------------------------------------------


def install_service(unit_dir: Path = UNIT_DIR, token_file: Path | None = None) -> None:
    """The unsharded unit. Shard instances left from a sharded install (`install --shards`, then the
    guilds migrated back to one state and shard_count removed) are stopped and disabled first: left
    enabled, they would start at the next boot over a layout they do not match."""
    require_systemd()
    require_root("install")
    system = Paths.system()
    template = unit_template()
    executable = installed_executable()
    require_token(token_file or system.token_file)
    require_user()
    try:
        check_layout(system, None)  # before any shard is stopped: the bot would refuse this state
    except LayoutMismatch as exc:
        raise ServiceError(str(exc)) from None
    changed = write_unit(render_unit(template.read_text(), executable), unit_dir)
    where = unit_dir / UNIT_NAME
    out.print(
        f"{'Wrote' if changed else 'Kept the unchanged'} {where} (ExecStart={executable})", soft_wrap=True
    )
    systemctl("daemon-reload")
    retire_shards((), unit_dir)
    if show(("ActiveState",)).get("ActiveState") == "active":
        systemctl("enable", UNIT_NAME)
        start("restart")  # the running bot may be older code, or an older unit
    else:
        start("enable", "--now")


def shard_config(config: Config, shards: str, ids: str | None) -> Config:
    """config.toml with `shard_count` (and this machine's `shard_ids`) for `install --shards`, checked
    by config.toml's own rules; without --shard-ids this machine runs every shard."""
    try:
        count = shard_count(shards)
    except BadValue as exc:
        raise ServiceError(f"--shards: {exc}") from None
    try:
        chosen = None if ids is None else shard_ids(ids)
    except BadValue as exc:
        raise ServiceError(f"--shard-ids: {exc}") from None
    sharded = replace(config, shard_count=count, shard_ids=chosen)
    try:
        check_shards(sharded)
    except ConfigError as exc:
        raise ServiceError(f"--shard-ids: {exc.reason}") from None
    return sharded


def install_shards(
    shards: str, ids: str | None, unit_dir: Path = UNIT_DIR, token_file: Path | None = None
) -> None:
    """One `quranbot@N` per shard of this machine: config.toml says the count and ids (each instance
    reads them), the template is rendered, the unsharded unit (if any) stopped, the shards started."""
    require_systemd()
    require_root("install")
    system = Paths.system()
    template = unit_template(name=TEMPLATE_NAME)
    executable = installed_executable()
    require_token(token_file or system.token_file)
    require_user()
    try:
        config = shard_config(load_config(system.config_file), shards, ids)
        check_layout(system, config.shard_count)
    except (ConfigError, LayoutMismatch) as exc:
        raise ServiceError(str(exc)) from None
    write_config(system.config_file, config)
    units = machine_units(config)
    out.print(
        f"config.toml: shard_count = {config.shard_count}; this machine runs {', '.join(units)}",
        soft_wrap=True,
    )
    changed = write_unit(render_unit(template.read_text(), executable), unit_dir, TEMPLATE_NAME)
    where = unit_dir / TEMPLATE_NAME
    out.print(
        f"{'Wrote' if changed else 'Kept the unchanged'} {where} (ExecStart={executable})", soft_wrap=True
    )
    systemctl("daemon-reload")
    if show(("LoadState",)).get("LoadState") != "not-found":
        out.print(f"Disabling {UNIT_NAME}: the shards take over its guilds", soft_wrap=True)
        systemctl("disable", "--now", UNIT_NAME)
    retire_shards(units, unit_dir)
    systemctl("enable", *units)
    start("restart", units=units)  # restart: a shard already running may be older code or another count


def known_shard_units(unit_dir: Path = UNIT_DIR) -> set[str]:
    """The `quranbot@N` instances systemd knows here: loaded (running, failed, ...) or enabled (a link in
    a `.wants/` directory)."""
    listed = subprocess.run(
        ["systemctl", "list-units", "--all", "--plain", "--no-legend", "quranbot@*.service"],
        capture_output=True,
        text=True,
    ).stdout
    names = {line.split()[0] for line in listed.splitlines() if line.strip()}
    names |= {link.name for link in unit_dir.glob("*.wants/quranbot@*.service")}
    return {name for name in names if re.fullmatch(r"quranbot@\d+\.service", name)}


def retire_shards(units: tuple[str, ...], unit_dir: Path = UNIT_DIR) -> list[str]:
    """Stop and disable the shard instances this machine no longer runs (the count or its ids shrank):
    left enabled, one would start at boot over a layout it does not match, or recite another machine's
    guilds."""
    stale = sorted(known_shard_units(unit_dir) - set(units), key=lambda u: int(u.split("@")[1].split(".")[0]))
    if stale:
        out.print(f"Disabling {', '.join(stale)}: this machine no longer runs those shards", soft_wrap=True)
        systemctl("disable", "--now", *stale)
        subprocess.run(["systemctl", "reset-failed", *stale], capture_output=True)
    return stale


def uninstall_service(unit_dir: Path = UNIT_DIR) -> None:
    require_systemd()
    require_root("uninstall")
    units = system_units()
    if units != (UNIT_NAME,):
        uninstall_shards(units, unit_dir)
    path = unit_dir / UNIT_NAME
    if not path.exists() and show(("LoadState",)).get("LoadState") == "not-found":
        out.print(f"{UNIT_NAME} is not installed; nothing to do.")
        return
    with out.status("Stopping QuranBot…"):
        systemctl("disable", "--now", UNIT_NAME)
    path.unlink(missing_ok=True)
    systemctl("daemon-reload")
    subprocess.run(["systemctl", "reset-failed", UNIT_NAME], capture_output=True)  # forget a failed state
    out.print(
        f"Removed {path}; config and state stay in /etc/quranbot and /var/lib/quranbot.", soft_wrap=True
    )


def uninstall_shards(units: tuple[str, ...], unit_dir: Path = UNIT_DIR) -> None:
    """Stop and disable this machine's shard instances and remove the template (state stays)."""
    units = tuple(sorted(set(units) | known_shard_units(unit_dir)))  # any left from a larger count too
    with out.status("Stopping QuranBot's shards…"):
        systemctl("disable", "--now", *units)
    (unit_dir / TEMPLATE_NAME).unlink(missing_ok=True)
    systemctl("daemon-reload")
    subprocess.run(["systemctl", "reset-failed", *units], capture_output=True)
    out.print(f"Removed {unit_dir / TEMPLATE_NAME} ({', '.join(units)})", soft_wrap=True)


def run(work: Callable[..., object], *args: str) -> None:
    """Run a command's work, turning a ServiceError into `error: ...` and exit 1."""
    try:
        work(*args)
    except ServiceError as exc:
        raise fail(str(exc)) from None


@service_app.command("install")
def install_command(
    shards: Annotated[
        str | None,
        typer.Option(
            help="Run as this many gateway shards (docs/SCALING.md): one quranbot@N service per shard of "
            "this machine; sets shard_count in config.toml."
        ),
    ] = None,
    shard_ids: Annotated[
        str | None,
        typer.Option(help="With --shards: the shards this machine runs (e.g. 0,1); default: all of them."),
    ] = None,
) -> None:
    """Install the systemd unit, enable it at boot and start it; waits until the bot is reciting.

    Without --shards, config.toml's shard_count (and shard_ids) decide: a sharded machine gets its
    shards' units again (install.sh's upgrade runs a plain `service install`)."""
    if shards is None:
        if shard_ids is not None:
            raise fail("--shard-ids needs --shards (how many shards in all)", code=2)
        run(require_systemd)
        try:
            config = load_config(Paths.system().config_file)
        except ConfigError as exc:
            raise fail(str(exc)) from None
        if config.shard_count is None:
            run(install_service)
            print_status(Paths.system().control_socket)
            return
        shards = str(config.shard_count)
        shard_ids = None if config.shard_ids is None else ",".join(map(str, config.shard_ids))
        out.print(f"config.toml says shard_count = {shards}: installing the shards", soft_wrap=True)
    run(lambda: install_shards(shards, shard_ids))
    run(lambda: print_machine_status(system_units()))


@service_app.command("uninstall")
def uninstall_command() -> None:
    """Stop and disable the service and remove its unit (config, state and audio stay)."""
    run(uninstall_service)


def _control(action: str) -> None:
    require_systemd()
    require_root(action)
    units = system_units()
    require_installed(units)
    if action == "stop":
        with out.status("Stopping QuranBot (it saves its position and leaves voice)…"):
            systemctl("stop", *units)
    else:
        start(action, units=units)
    for unit in units:
        out.print(escape(describe(show(unit=unit), unit)), highlight=False, soft_wrap=True)


@service_app.command("start")
def start_command() -> None:
    """Start the service; waits until the bot is reciting."""
    run(_control, "start")


@service_app.command("stop")
def stop_command() -> None:
    """Stop the service (until the next start or boot)."""
    run(_control, "stop")


@service_app.command("restart")
def restart_command() -> None:
    """Restart the service; waits until the bot is reciting again."""
    run(_control, "restart")


@service_app.command("status")
def status_command() -> None:
    """systemd's view (state, pid, restarts, since when) and the bot's own (what it recites, who listens).

    Exit status 3 when the service is not active.
    """
    run(require_systemd)
    try:
        active = print_machine_status(system_units())
    except ServiceError as exc:
        raise fail(str(exc)) from None
    if not active:
        raise typer.Exit(NOT_ACTIVE)


@service_app.command("logs")
def logs_command(
    lines: Annotated[int, typer.Option("--lines", "-n", min=0, help="How many recent lines to show.")] = 50,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
) -> None:
    """The service's journal (everything it logged, across restarts), via journalctl."""
    run(require_systemd)
    if shutil.which("journalctl") is None:
        raise fail("systemd is running but `journalctl` is not on PATH")
    try:
        units = system_units()
    except ServiceError as exc:
        raise fail(str(exc)) from None
    command = journal_command(lines, follow, units)
    sys.stdout.flush()
    os.execvp(command[0], command)
