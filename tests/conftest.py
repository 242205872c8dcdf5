"""Shared fixtures: a running sandbox (the local Discord) and real audio files made with ffmpeg."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quranbot.audio.tone import write_tone
from quranbot.sandbox.server import Sandbox


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    async with Sandbox(tmp_path / "sandbox") as running:
        yield running


@pytest.fixture(scope="session")
def tone_440(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five seconds of a 440 Hz sine as Ogg Opus."""
    return write_tone(tmp_path_factory.mktemp("audio") / "tone-440.ogg", 440.0, 5.0)
