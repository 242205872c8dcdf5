"""The soak's short version in the main suite: the real bot (a `quranbot run` process under the soak's
systemd stand-in) on the sandbox with two guilds and listeners, and every fault this machine can inject
once, in an order drawn from a fixed seed: each must be recovered from within 10 s (audio heard again in
both guilds for 2 s, the control socket answering), positions must not go back more than the flush
interval across restarts, the state files must load, listening must not be counted twice, and the log
must hold no unhandled exception. tests/soak runs the same at length.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from quranbot.soak.faults import FAULTS
from quranbot.soak.report import print_report
from quranbot.soak.run import RECOVERY_GOAL, Soak

SEED = 1404


async def test_every_fault_once_and_every_promise_holds(tmp_path: Path) -> None:
    soak = Soak(tmp_path / "soak", minutes=0, seed=SEED, each_once=True, every=(1.0, 2.0))
    report = await soak.run()
    print_report(report, Console(width=120), f"quranbot soak (each fault once, seed {SEED})")
    assert sorted(o.kind for o in report.outcomes) == sorted(report.faults)
    assert set(report.faults) | set(report.left_out) == set(FAULTS)
    # install.sh --dev installs the compiler the clock shim needs: both wall-clock steps are drawn
    assert {"clock +1 h", "clock -1 h"} <= set(report.faults)
    assert all(count <= 1 for count in report.daily_verses.values())
    assert all(o.recovered is not None and o.recovered <= RECOVERY_GOAL for o in report.outcomes)
    kills = [r for r in report.restarts]
    assert kills, "SIGKILL and SIGSTOP restart the bot: their positions are compared"
    assert report.problems() == []
