"""A throwaway Debian 12 machine with systemd as PID 1, for the system stage: debootstrap once, boot with
systemd-nspawn, run commands inside with nsenter.

Why these tools: the host has no systemd PID 1 (so no `machinectl`, no `systemd-run`), but nspawn boots
a real systemd in a container of its own without one (`--register=no --keep-unit`). `--volatile=overlay`
keeps every change in a tmpfs, so the cached root stays pristine and each boot starts from a fresh
server. The container shares the host's network namespace: a sandbox on the host's 127.0.0.1 is
reachable from inside, and apt and pip reach their registries as the host does.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CACHE = Path("/var/cache/quranbot-ci")
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
#: A minimal server: systemd and D-Bus to boot, nothing QuranBot needs (install.sh must bring that).
INCLUDE = ("systemd", "dbus")
#: A cached root older than this is rebuilt, so the stage does not test against a stale Debian forever.
MAX_ROOT_AGE = 7 * 24 * 3600
HOST_TOOLS = {"debootstrap": "debootstrap", "systemd-nspawn": "systemd-container", "nsenter": "util-linux"}
#: What commands inside see: a root login's basics, nothing of the host's (venv, PIP_*, QURANBOT_*).
CLEAN_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
    "NO_COLOR": "1",
    "COLUMNS": "200",
}


def ensure_host_tools() -> float:
    """apt-get install debootstrap and systemd-container when missing; the seconds it took."""
    missing = sorted({package for tool, package in HOST_TOOLS.items() if shutil.which(tool) is None})
    if not missing:
        return 0.0
    started = time.monotonic()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                   check=True, env=env, timeout=600)  # fmt: skip
    return time.monotonic() - started


@dataclass(frozen=True)
class BuiltRoot:
    path: Path
    #: Seconds debootstrap took now, or None when a cached root was reused.
    build_seconds: float | None


def debian_root(cache: Path = CACHE) -> BuiltRoot:
    """A minbase Debian 12 root: reused from the cache when complete and recent, else built (~40-75 s).

    A lock serialises concurrent runs; the `.complete` marker is written last, so a build that was
    interrupted is never reused."""
    key = hashlib.sha256(f"{SUITE} minbase {','.join(INCLUDE)} {MIRROR}".encode()).hexdigest()[:12]
    roots = cache / "roots"
    roots.mkdir(parents=True, exist_ok=True)
    root = roots / f"{SUITE}-minbase-{key}"
    marker = roots / f"{root.name}.complete"
    with open(roots / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and time.time() - marker.stat().st_mtime < MAX_ROOT_AGE:
            return BuiltRoot(root, None)
        marker.unlink(missing_ok=True)
        if root.exists():
            shutil.rmtree(root)
        started = time.monotonic()
        debs = cache / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        command = ["debootstrap", "--variant=minbase", f"--include={','.join(INCLUDE)}",
                   f"--cache-dir={debs}", SUITE, str(root), MIRROR]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise RuntimeError(
                f"debootstrap failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr}"
            )
        marker.touch()
        return BuiltRoot(root, time.monotonic() - started)


def children(pid: int) -> list[int]:
    """Direct children of `pid` (the kernel's own list, per thread)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


class Container:
    """One booted container. `run()` executes inside it; the log holds its console."""

    def __init__(self, root: Path, binds_ro: dict[Path, str], binds: dict[Path, str], log: Path) -> None:
        self.root = root
        self.log = log
        command = ["systemd-nspawn", "--boot", "--register=no", "--keep-unit", "--volatile=overlay",
                   "--console=read-only", "--machine=quranbot-system-test", "-D", str(root)]  # fmt: skip
        command += [f"--bind-ro={host}:{inside}" for host, inside in binds_ro.items()]
        command += [f"--bind={host}:{inside}" for host, inside in binds.items()]
        self._log_file = open(log, "wb")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=self._log_file,
                                        stderr=subprocess.STDOUT)  # fmt: skip
        self.pid = 0

    def wait_until_booted(self, timeout: float = 60.0) -> float:
        """Find the container's PID 1 (nspawn's child) and wait for systemd to finish booting; seconds."""
        started = time.monotonic()
        deadline = started + timeout
        while not self.pid:
            if self.process.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited with {self.process.returncode}:\n{self.console()}")
            for child in children(self.process.pid):
                with contextlib.suppress(FileNotFoundError):
                    if Path(f"/proc/{child}/comm").read_text().strip() == "systemd":
                        self.pid = child
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no systemd inside the container after {timeout:.0f} s:\n{self.console()}"
                )
            time.sleep(0.05)
        # Until systemd listens on its private socket, systemctl fails to connect: ask again.
        while True:
            remaining = max(1.0, deadline - time.monotonic())
            state = self.run("systemctl", "is-system-running", "--wait", check=False, timeout=remaining)
            if state.stdout.strip() in ("running", "degraded"):
                return time.monotonic() - started
            if time.monotonic() > deadline:
                raise RuntimeError(f"the container did not finish booting: {state.stdout.strip()} "
                                   f"{state.stderr.strip()}\n{self.console()}")  # fmt: skip
            time.sleep(0.1)

    def run(
        self, *args: str, check: bool = True, timeout: float = 120.0, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside, as root, in all the container's namespaces, with a clean environment."""
        env = [f"{key}={value}" for key, value in CLEAN_ENV.items()]
        command = ["nsenter", "-t", str(self.pid), "-a", "-r", "-w", "env", "-i", *env, *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, input=input)
        if check and result.returncode != 0:
            raise AssertionError(
                f"inside the container, {' '.join(args)} exited with {result.returncode}\n"
                f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-4000:]}"
            )
        return result

    def path(self, inside: str) -> Path:
        """A path in the container's file system, as the host can read and write it."""
        return Path(f"/proc/{self.pid}/root") / inside.lstrip("/")

    def show(self, unit: str, *properties: str) -> dict[str, str]:
        result = self.run("systemctl", "show", unit, "-p", ",".join(properties))
        return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)

    def console(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_bytes()[-4000:].decode(errors="replace")
        return ""

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM makes nspawn power the container off cleanly; SIGKILL if it takes too long."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log_file.close()


@contextlib.contextmanager
def booted(root: Path, binds_ro: dict[Path, str], binds: dict[Path, str], log: Path) -> Iterator[Container]:
    container = Container(root, binds_ro, binds, log)
    try:
        yield container
    finally:
        container.stop()
