"""The soak's table: recovery per fault kind, then every promise checked, with the figures behind it."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from quranbot.soak.run import FRAMES_PER_SECOND, RECOVERY_GOAL, SoakReport, distribution


def print_report(report: SoakReport, console: Console, command: str) -> None:
    table = Table(title=f"Recovery by fault, {report.seconds / 60:.1f} min, seed {report.seed}")
    for column in ("fault", "times", f"≤ {RECOVERY_GOAL:g} s", "median s", "p90 s", "max s"):
        table.add_column(column, justify="left" if column == "fault" else "right")
    kinds: dict[str, list[float | None]] = {}
    for outcome in report.outcomes:
        kinds.setdefault(outcome.kind, []).append(outcome.recovered)
    for kind in sorted(kinds):
        times = kinds[kind]
        done = [t for t in times if t is not None]
        within = sum(1 for t in done if t <= RECOVERY_GOAL)
        median, p90, most = distribution(done) if done else (float("nan"),) * 3
        table.add_row(
            kind, str(len(times)), f"{within}/{len(times)}", f"{median:.1f}", f"{p90:.1f}", f"{most:.1f}"
        )
    console.print(table)
    for kind, why in report.left_out.items():
        console.print(f"left out: {kind}: {why}", highlight=False)
    lost = [r.lost_frames / FRAMES_PER_SECOND for r in report.restarts]
    console.print(
        f"restarts: {report.supervisor_restarts} (watchdog: {report.watchdog_trips}); "
        "position lost at a restart: "
        + (
            f"max {max(lost):.2f} s, median {sorted(lost)[len(lost) // 2]:.2f} s over {len(lost)}"
            if lost
            else "none"
        )
        + f" (allowed: the flush interval {report.flush_interval:g} s + 1 s)",
        highlight=False,
    )
    if report.listening:
        ratio = max(recorded / present for _, recorded, present in report.listening if present > 0)
        console.print(
            f"listening: {len(report.listening)} members; at most {ratio:.3f} of the time present recorded "
            "(over 1 would be time counted twice)",
            highlight=False,
        )
    if report.daily_verses:
        console.print(
            "daily verse, set 30 min ahead (reached only by a clock step forward): "
            + ", ".join(f"{guild} {count}×" for guild, count in report.daily_verses.items())
            + " (over 1 would be a day posted twice)",
            highlight=False,
        )
    growth = report.growth
    if growth is not None:
        console.print(
            f"memory: {growth.rss_first_kib / 1024:.1f} → {growth.rss_last_kib / 1024:.1f} MiB, "
            f"slope {growth.rss_kib_per_minute:+.0f} KiB/min; descriptors {growth.fds_first} → "
            f"{growth.fds_last}, slope {growth.fds_per_minute:+.2f}/min "
            f"(one process, {growth.seconds:.0f} s, {growth.samples} samples)",
            highlight=False,
        )
    console.print(
        f"log: {len(report.log.unhandled)} unhandled exception(s); ERROR lines by kind:", highlight=False
    )
    for message, count in report.log.errors.most_common(10):
        console.print(f"  {count:>4} × {message}", highlight=False, soft_wrap=True)
    problems = report.problems()
    console.print(
        "[bold green]every promise held[/]" if not problems else f"[bold red]{len(problems)} problem(s):[/]"
    )
    for problem in problems:
        console.print(f"  - {problem}", highlight=False, soft_wrap=True)
    console.print(f"reproduce: {command}", highlight=False, soft_wrap=True)
