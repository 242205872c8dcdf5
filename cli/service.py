"""`quranbot service ...`: QuranBot under systemd: install the unit, start and stop it, its state and logs.

Everything goes through `systemctl` and `journalctl`, so what these commands report is what systemd
knows. The unit is systemd/quranbot.service with ExecStart pointing at the installed `quranbot`. The
service always uses the system paths (/etc/quranbot, /var/lib/quranbot, /run/quranbot), whatever
--home says: systemd runs it, not this shell.
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
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from quranbot.atomic_file import atomic_write_bytes
from quranbot.cli.output import err, fail, out
from quranbot.cli.status import guild_panel
from quranbot.control.client import BotNotRunning, ControlClient, ControlError
from quranbot.paths import Paths

UNIT_NAME = "quranbot.service"
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


def unit_template(prefix: Path = Path(sys.prefix), checkout: Path = CHECKOUT) -> Path:
    """The unit to render: install.sh copies it into the venv's share/quranbot/ (a wheel carries no
    top-level systemd/ folder); an editable install reads the checkout's systemd/."""
    candidates = (prefix / "share" / "quranbot" / UNIT_NAME, checkout / "systemd" / UNIT_NAME)
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


def write_unit(text: str, unit_dir: Path = UNIT_DIR) -> bool:
    """Write the unit atomically (systemd never reads half a file); True when its content changed."""
    path = unit_dir / UNIT_NAME
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


def show(properties: tuple[str, ...] = PROPERTIES) -> dict[str, str]:
    """The unit's properties as systemd reports them (`systemctl show`)."""
    result = subprocess.run(["systemctl", "show", UNIT_NAME, "-p", ",".join(properties)],
                            capture_output=True, text=True)  # fmt: skip
    if result.returncode != 0:
        raise ServiceError(f"systemctl show {UNIT_NAME} failed: {result.stderr.strip()}")
    pairs = (line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return {key: value for key, value in pairs}


def require_installed() -> None:
    if show(("LoadState",)).get("LoadState") == "not-found":
        raise ServiceError(f"{UNIT_NAME} is not installed: sudo quranbot service install")


def journal_command(lines: int, follow: bool) -> list[str]:
    command = ["journalctl", "-u", UNIT_NAME, "-n", str(lines), "-o", "short-iso"]
    return [*command, "-f"] if follow else command


def recent_journal(lines: int = JOURNAL_LINES_ON_FAILURE) -> str:
    result = subprocess.run(
        [*journal_command(lines, follow=False), "--no-pager"], capture_output=True, text=True
    )
    return result.stdout.rstrip() or result.stderr.rstrip()


def start(*verb: str) -> None:
    """`systemctl start|restart|enable --now`: blocks until READY=1 (Type=notify), or the start failed."""
    with out.status("Starting QuranBot: systemd waits until it is logged in and reciting…"):
        try:
            systemctl(*verb, UNIT_NAME)
        except ServiceError as exc:
            err.print(escape(describe(show())), highlight=False, soft_wrap=True)
            err.print(escape(recent_journal()), highlight=False, soft_wrap=True)
            raise ServiceError(f"QuranBot did not start ({exc}). The journal's last lines are above; once "
                               "the cause is fixed: sudo quranbot service restart") from None  # fmt: skip
    if show(("ActiveState",)).get("ActiveState") != "active":
        raise ServiceError(f"{UNIT_NAME} did not stay active: {describe(show())}")


# -- status --------------------------------------------------------------------------------------------


def describe(state: dict[str, str]) -> str:
    """One line, e.g. `quranbot.service: active (running) since ..., pid 812, 0 restarts, enabled`."""
    if state.get("LoadState") == "not-found":
        return f"{UNIT_NAME}: not installed"
    line = f"{UNIT_NAME}: {state.get('ActiveState', '?')} ({state.get('SubState', '?')})"
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


def print_status(socket: Path) -> bool:
    """systemd's state, then the bot's; True when the service is active."""
    state = show()
    out.print(escape(describe(state)), highlight=False, soft_wrap=True)
    if state.get("LoadState") != "not-found":
        print_bot_status(socket)
    return state.get("ActiveState") == "active"


# -- the commands --------------------------------------------------------------------------------------


def install_service(unit_dir: Path = UNIT_DIR, token_file: Path | None = None) -> None:
    require_systemd()
    require_root("install")
    template = unit_template()
    executable = installed_executable()
    require_token(token_file or Paths.system().token_file)
    require_user()
    changed = write_unit(render_unit(template.read_text(), executable), unit_dir)
    where = unit_dir / UNIT_NAME
    out.print(
        f"{'Wrote' if changed else 'Kept the unchanged'} {where} (ExecStart={executable})", soft_wrap=True
    )
    systemctl("daemon-reload")
    if show(("ActiveState",)).get("ActiveState") == "active":
        systemctl("enable", UNIT_NAME)
        start("restart")  # the running bot may be older code, or an older unit
    else:
        start("enable", "--now")


def uninstall_service(unit_dir: Path = UNIT_DIR) -> None:
    require_systemd()
    require_root("uninstall")
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


def run(work: Callable[..., None], *args: str) -> None:
    """Run a command's work, turning a ServiceError into `error: ...` and exit 1."""
    try:
        work(*args)
    except ServiceError as exc:
        raise fail(str(exc)) from None


@service_app.command("install")
def install_command() -> None:
    """Install the systemd unit, enable it at boot and start it; waits until the bot is reciting."""
    run(install_service)
    print_status(Paths.system().control_socket)


@service_app.command("uninstall")
def uninstall_command() -> None:
    """Stop and disable the service and remove its unit (config, state and audio stay)."""
    run(uninstall_service)


def _control(action: str) -> None:
    require_systemd()
    require_root(action)
    require_installed()
    if action == "stop":
        with out.status("Stopping QuranBot (it saves its position and leaves voice)…"):
            systemctl("stop", UNIT_NAME)
    else:
        start(action)
    out.print(escape(describe(show())), highlight=False, soft_wrap=True)


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
        active = print_status(Paths.system().control_socket)
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
    command = journal_command(lines, follow)
    sys.stdout.flush()
    os.execvp(command[0], command)
