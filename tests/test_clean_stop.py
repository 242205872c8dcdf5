"""A clean stop logs no error (issue 15): every task the bot starts is owned, cancelled and awaited on
the way out, so stopping as SIGTERM does leaves nothing behind to complain later: no "Task exception
was never retrieved" (a presence update writing to the closed gateway, discord.py's ready task
dispatching on a closed client), no "Task was destroyed but it is pending", no "coroutine ... was
never awaited", no error from discord.py.

The in-process test watches every task created while the bot runs (a task factory on the loop): once
`run_bot` has returned, none of the bot's may still be running and none may hold an exception nobody
retrieved. The sandbox serves from the same loop; its own tasks are told apart by their code.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import warnings
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import pytest
from processes import run_quranbot
from running_bot import RunningBot
from test_panel import configure, until

from quranbot.bot.cogs import presence
from quranbot.bot.cogs.presence import PresenceCog
from quranbot.i18n.catalog import english as english_messages
from quranbot.sandbox.server import Sandbox

#: What asyncio and Python say about tasks and coroutines nobody owned.
ORPHANS = ("never retrieved", "never awaited", "destroyed but it is pending", "Exception ignored")
#: Seconds of audio heard before each stop, spread over a surah (1.5 s): the first stops come before
#: discord.py's ready task has run (2 s after the guild arrived), the others meet updates in flight.
STOPS = (0.1, 0.5, 0.9, 1.3, 1.7, 2.1)
#: The presence is updated at most this often here (the bot: 15 s), twice a surah's length: most of
#: the time an update is waiting for its turn, so the stops find one pending.
PRESENCE_INTERVAL = 3.0
#: Where the sandbox's code (and aiohttp's server, which it runs on) lives: their tasks are not the bot's.
SANDBOX_CODE = ("/quranbot/sandbox/", "/aiohttp/web_")


@contextmanager
def noise_caught() -> Iterator[list[str]]:
    """Everything asyncio's exception handler, `sys.unraisablehook` and the warnings machinery report
    meanwhile; a garbage collection at the end makes orphaned tasks and coroutines speak up."""
    noise: list[str] = []
    loop = asyncio.get_running_loop()
    previous_handler, previous_hook = loop.get_exception_handler(), sys.unraisablehook

    def handler(_: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        noise.append(f"asyncio: {context.get('message')} {context.get('exception')!r}")

    def hook(unraisable: Any) -> None:
        noise.append(f"Exception ignored: {unraisable.exc_value!r} in {unraisable.object!r}")

    loop.set_exception_handler(handler)
    sys.unraisablehook = hook
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield noise
            gc.collect()
        noise.extend(f"warning: {w.category.__name__}: {w.message}" for w in caught)
    finally:
        loop.set_exception_handler(previous_handler)
        sys.unraisablehook = previous_hook


@contextmanager
def tasks_created() -> Iterator[list[asyncio.Task[Any]]]:
    """Every task created on the running loop meanwhile (a task factory that keeps a list)."""
    loop = asyncio.get_running_loop()
    previous = loop.get_task_factory()
    created: list[asyncio.Task[Any]] = []

    def factory(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **options: Any
    ) -> asyncio.Task[Any]:
        task = previous(loop, coro, **options) if previous else asyncio.Task(coro, loop=loop, **options)
        created.append(task)  # type: ignore[arg-type]
        return task  # type: ignore[return-value]

    loop.set_task_factory(factory)  # type: ignore[arg-type]
    try:
        yield created
    finally:
        loop.set_task_factory(previous)


def the_bots(task: asyncio.Task[Any]) -> bool:
    code = getattr(task.get_coro(), "cr_code", None)
    return code is None or not any(part in code.co_filename for part in SANDBOX_CODE)


def left_behind(tasks: list[asyncio.Task[Any]]) -> list[str]:
    """The bot's tasks still running, or failed with an exception nobody retrieved (asyncio would
    log it when the task is collected: "Task exception was never retrieved")."""
    problems = []
    for task in tasks:
        if not the_bots(task):
            continue
        if not task.done():
            problems.append(f"still running: {task.get_name()} {task.get_coro()!r}")
        elif getattr(task, "_log_traceback", False):  # CPython's flag behind that message
            problems.append(f"failed, never retrieved: {task.get_name()} {task.exception()!r}")
    return problems


def presence_shown(sandbox: Sandbox, before: set[str]) -> bool:
    """A gateway session opened since `before` has set an activity (op 3)."""
    return any(
        (session.presence or {}).get("activities")
        for session_id, session in sandbox.gateway.sessions.items()
        if session_id not in before
    )


def panel_written(sandbox: Sandbox, since: int) -> bool:
    """The panel message was posted or edited since the REST request numbered `since`."""
    return any(
        route.startswith("/channels/{channel_id}/messages") and method in ("POST", "PATCH")
        for method, route, _ in sandbox.rest.requests[since:]
    )


async def test_stopping_while_presence_and_panel_update_leaves_nothing_behind(
    sandbox: Sandbox, home: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real bot with a listener in voice and a panel, stopped as SIGTERM would at moments spread
    over a surah, six times: before its ready task ran, and while presence and panel updates wait."""
    monkeypatch.setattr(presence, "MIN_INTERVAL", PRESENCE_INTERVAL)
    caplog.set_level(logging.WARNING)
    d = sandbox.default
    configure(sandbox, home)
    await sandbox.join_voice(d.listener, d.voice)
    listener = sandbox.listener(d.voice)
    left: list[str] = []
    async with asyncio.timeout(40):
        with noise_caught() as noise:
            for stop_after in STOPS:
                sessions, requests = set(sandbox.gateway.sessions), len(sandbox.rest.requests)
                with tasks_created() as tasks:
                    bot = await RunningBot(sandbox, home).start()
                    await until(partial(presence_shown, sandbox, sessions), 20, "a presence update")
                    await until(partial(panel_written, sandbox, requests), 20, "the panel posted or edited")
                    await listener.wait_for_packets(listener.packets + round(stop_after * 50), timeout=10)
                    await bot.stop()
                left += [f"stopped {stop_after} s in: {problem}" for problem in left_behind(tasks)]
            await asyncio.sleep(PRESENCE_INTERVAL)  # an orphaned update would fail by now
    assert left == [], "\n".join(left)
    assert [n for n in noise if any(o in n for o in ORPHANS)] == []
    assert noise == [], "\n".join(noise)
    logged = [
        f"{r.levelname} {r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR
    ]
    assert logged == []


async def test_a_presence_update_meeting_a_closing_gateway_logs_no_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The gateway starts closing between the check and the write (aiohttp refuses to write to a
    closing transport): the update is dropped quietly and the next surah tries again."""
    attempts: list[str] = []

    class ClosingGateway:
        ws = SimpleNamespace(open=True)

        def is_closed(self) -> bool:
            return False

        async def change_presence(self, activity: Any) -> None:
            attempts.append(activity.name)
            raise aiohttp.ClientConnectionResetError("Cannot write to closing transport")

    cog = PresenceCog(cast(Any, ClosingGateway()), english_messages())
    reciting = SimpleNamespace(now_playing=lambda: SimpleNamespace(surah=18, reciter_name="Sample"))
    caplog.set_level(logging.DEBUG)
    with noise_caught() as noise:
        await cog.on_quran_event(cast(Any, reciting), cast(Any, SimpleNamespace(kind="started")))
        await until(lambda: attempts, 2, "the update")
        await cog.cog_unload()
    assert attempts == ["Surah Al-Kahf · Sample"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "Presence not updated" in caplog.text
    assert noise == []


def test_quranbot_demo_ends_without_an_error_or_a_traceback(home: Path) -> None:
    """`quranbot demo --headless` as a user runs it (on the shared sample reciter, so nothing is
    generated first), twice: its output holds no error, no traceback, nothing about orphaned tasks."""
    for run in range(2):
        result = run_quranbot("--home", str(home), "demo", "--headless", "--seconds", "6", timeout=40)
        assert result.returncode == 0, result.stderr
        assert "surahs heard" in result.stdout
        problems = [
            line
            for line in result.stderr.splitlines()
            if any(word in line for word in (" ERROR ", " CRITICAL ", "Traceback", *ORPHANS))
        ]
        assert problems == [], f"run {run}: {result.stderr}"
