"""Shared fixtures: a running sandbox (the local Discord) and a reciter library of real audio."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quranbot.audio.sample import write_sample_reciter
from quranbot.audio.tone import write_tone
from quranbot.paths import Paths
from quranbot.sandbox.server import Sandbox

#: The sample surahs the shared library holds (surah N is a 200 + 10·N Hz tone).
SAMPLE_SURAHS = range(1, 8)
SAMPLE_SECONDS = 1.5


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    async with Sandbox(tmp_path / "sandbox") as running:
        yield running


@pytest.fixture(scope="session")
def sample_audio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An audio directory with the sample reciter (surahs 1–7, 1.5 s each), made once per session."""
    audio_dir = tmp_path_factory.mktemp("library") / "audio"
    write_sample_reciter(audio_dir, seconds=SAMPLE_SECONDS, surahs=SAMPLE_SURAHS)
    return audio_dir


@pytest.fixture
def home(tmp_path: Path, sample_audio: Path) -> Path:
    """A --home for the bot whose library holds the sample reciter."""
    root = tmp_path / "home"
    shutil.copytree(sample_audio, Paths.under(root).audio_dir)
    return root


@pytest.fixture(scope="session")
def tone_440(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five seconds of a 440 Hz sine as Ogg Opus, for tests that play a file straight to voice."""
    return write_tone(tmp_path_factory.mktemp("audio") / "tone-440.ogg", 440.0, 5.0)
