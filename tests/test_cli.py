"""The `quranbot` command as an admin runs it: a real process, against a sandbox in this test's loop."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from processes import finish, start_quranbot

from quranbot import __version__
from quranbot.audio.levels import dominant_frequency
from quranbot.audio.sample import surah_from_frequency
from quranbot.paths import Paths
from quranbot.sandbox.server import Sandbox


async def test_version_and_help() -> None:
    code, out, _ = await finish(await start_quranbot("--version"))
    assert code == 0 and out.strip() == f"quranbot {__version__}"
    code, out, _ = await finish(await start_quranbot("--help"))
    assert code == 0
    for command in ("run", "demo", "sandbox", "--home"):
        assert command in out


def test_home_holds_every_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QURANBOT_HOME", raising=False)
    assert Paths.resolve() == Paths.system()
    monkeypatch.setenv("QURANBOT_HOME", str(tmp_path))
    paths = Paths.resolve()
    explicit = Paths.resolve(tmp_path / "other")
    for path in (
        paths.config_file,
        paths.token_file,
        paths.audio_dir,
        paths.backups_dir,
        paths.control_socket,
    ):
        assert path.is_relative_to(tmp_path)
    assert explicit.control_socket.is_relative_to(tmp_path / "other")


async def test_run_with_a_bad_token_exits_nonzero_without_printing_it(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    token = "MTIzNDU2.sandbox.this-token-is-wrong-and-secret"
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    process = await start_quranbot(
        "--home", str(tmp_path / "home"), "run", "--sandbox", sandbox.url,
        "--sandbox-cert", str(sandbox.cert_file), "--token-file", str(token_file),
    )  # fmt: skip
    code, out, err = await finish(process)
    assert code == 1
    assert "rejected the bot token" in err
    assert token not in out + err
    assert "Traceback" not in err


async def test_run_missing_token_file_is_named(tmp_path: Path) -> None:
    code, _, err = await finish(
        await start_quranbot("--home", str(tmp_path), "run", "--token-file", str(tmp_path / "nope"))
    )
    assert code == 1 and f"Token file {tmp_path / 'nope'} does not exist" in " ".join(err.split())


async def test_run_plays_in_voice_and_leaves_cleanly_on_sigterm(sandbox: Sandbox, home: Path) -> None:
    default = sandbox.default
    process = await start_quranbot(
        "--home", str(home), "run", "--sandbox", sandbox.url, "--sandbox-cert", str(sandbox.cert_file),
        "--token-file", str(sandbox.directory / "token"),
        "--voice-channel", str(default.voice.id),
    )  # fmt: skip
    listener = sandbox.listener(default.voice)
    try:
        await listener.wait_for_packets(100, timeout=20)
    finally:
        process.send_signal(signal.SIGTERM)
    code, _, err = await finish(process, timeout=15)
    assert code == 0, err
    assert surah_from_frequency(dominant_frequency(listener.pcm()[: 48_000 * 2]) or 0) == 1
    assert sandbox.in_voice(default.guild, default.bot.user.id) is None  # it left the channel
    assert sandbox.token not in err


async def test_demo_headless_prints_what_the_channel_heard(tmp_path: Path) -> None:
    code, out, err = await finish(
        await start_quranbot("--home", str(tmp_path), "demo", "--headless", "--seconds", "4")
    )
    assert code == 0, err
    summary = re.search(
        r"packets=(\d+) lost=(\d+) median_gap=([\d.]+)ms .*surahs heard: ([\d, ]+) largest gap: (\d+) ms", out
    )
    assert summary, out
    packets, lost, median_gap, heard, largest_gap = summary.groups()
    assert int(packets) >= 150 and int(lost) == 0
    assert float(median_gap) == pytest.approx(20.0, abs=1.0)
    assert [int(s) for s in heard.split(", ")][:2] == [1, 2]  # the sample reciter, in order, from the audio
    assert int(largest_gap) < 250  # reported; no stall (timing itself is measured in bench/, not asserted)
    # everything the demo made stays under --home
    assert (tmp_path / "run" / "sandbox" / "sandbox.json").is_file()
    assert (tmp_path / "state" / "audio" / "sample-tones" / "manifest.json").is_file()


def test_production_path_never_loads_the_sandbox() -> None:
    """`quranbot run` against Discord imports the CLI and the bot, and nothing of the sandbox."""
    probe = (
        "import sys, quranbot.cli.app, quranbot.bot.runner;"
        "print(sorted(m for m in sys.modules if m.startswith(('quranbot.sandbox', 'cryptography'))))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
