"""Real processes for tests: the `quranbot` command as an admin runs it, and a rival state-lock holder."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

QURANBOT = [sys.executable, "-m", "quranbot"]
PLAIN_OUTPUT = {"NO_COLOR": "1", "COLUMNS": "200"}


async def start_quranbot(
    *args: str, env: dict[str, str] | None = None, python_args: list[str] | None = None
) -> asyncio.subprocess.Process:
    """`quranbot ARGS...` running alongside the test's event loop (which may be serving a sandbox).

    `python_args` replaces `-m quranbot` (for a wrapper that prepares the process, then runs it)."""
    command = QURANBOT if python_args is None else [sys.executable, *python_args]
    return await asyncio.create_subprocess_exec(
        *command,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {}), **PLAIN_OUTPUT},
    )


async def finish(process: asyncio.subprocess.Process, timeout: float = 30.0) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def run_quranbot(*args: str, stdin: str = "", timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """`quranbot ARGS...` to completion, for commands that need no event loop of the test's."""
    return subprocess.run(
        [*QURANBOT, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **PLAIN_OUTPUT},
    )


@contextmanager
def lock_held_by_child(state_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """Another real process holding the state lock, as a running bot does."""
    state_dir.mkdir(parents=True, exist_ok=True)
    code = (
        "import sys, time; from pathlib import Path; from quranbot.store.lock import StateLock;"
        "StateLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", code, str(state_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        yield child
    finally:
        child.kill()
        child.wait(timeout=10)


@asynccontextmanager
async def quranbot_running(*args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """`quranbot ARGS...` for the length of the block; killed and reaped at the end if still running."""
    process = await start_quranbot(*args)
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.communicate()


async def stop_quranbot(process: asyncio.subprocess.Process, timeout: float = 20.0) -> tuple[int, str, str]:
    """SIGTERM, as systemd or Ctrl+C stops it, then its exit code and output."""
    process.send_signal(signal.SIGTERM)
    return await finish(process, timeout)


def as_nobody(work: Callable[[], str], timeout: float = 20.0) -> str:
    """What `work()` returns, run in a forked child that has become `nobody` (uid and gid 65534, no
    groups), as a user outside the bot's group would; "the child failed: …" if it raised. Forked, not
    spawned: the venv's interpreter lives under /root, which nobody may enter. Needs root."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: nobody from here on; it reports through the pipe and exits at once
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            answer = work()
        except BaseException as exc:
            answer = f"the child failed: {exc!r}"
        os.write(write_end, answer.encode())
        os._exit(0)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], timeout)
        return os.read(read_end, 1 << 20).decode() if ready else "(no answer from the child)"
    finally:
        os.close(read_end)
        if not ready:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
