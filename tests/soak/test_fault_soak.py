"""The soak at length (marker `soak`, on demand: `pytest -m soak tests/soak -s -n 0`): the real bot under
a random fault every few seconds for QURANBOT_SOAK_MINUTES (default 4), every promise checked at the end.
tests/test_fault_soak_short.py runs each fault once in the main suite; `quranbot soak` is the same for
an admin. The table is printed (`-s` shows it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rich.console import Console

from quranbot.soak.report import print_report
from quranbot.soak.run import Soak


@pytest.mark.soak
async def test_a_random_fault_every_few_seconds_for_minutes(tmp_path: Path) -> None:
    minutes = float(os.environ.get("QURANBOT_SOAK_MINUTES", "4"))
    soak = Soak(tmp_path / "soak", minutes=minutes)
    report = await soak.run()
    print_report(report, Console(width=120), f"quranbot soak --minutes {minutes:g} --seed {report.seed}")
    assert report.outcomes, "no fault was injected"
    assert report.problems() == []
