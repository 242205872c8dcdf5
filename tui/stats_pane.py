"""The bot's vital signs, from the `stats` topic (once a second): uptime, CPU, memory, packets, the
quiz today, backups.

Labels sit in a fixed column and each value runs to the pane's edge, so a value that grows a digit
never moves anything else.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from quranbot.tui.records import BotStats

LABEL_WIDTH = 13


def duration(seconds: float) -> str:
    """42 s, 5 m 03 s, 2 h 05 m, 3 d 04 h: the two largest units."""
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours:02d} h"
    if hours:
        return f"{hours} h {minutes:02d} m"
    if minutes:
        return f"{minutes} m {secs:02d} s"
    return f"{secs} s"


def rows(stats: BotStats) -> list[tuple[str, str]]:
    latency = "—" if stats.gateway_latency_ms is None else f"{stats.gateway_latency_ms:.0f} ms"
    backup = "none yet" if stats.last_backup is None else f"{duration(stats.last_backup.age)} ago"
    return [
        ("Uptime", duration(stats.uptime)),
        ("CPU", f"{stats.cpu_percent:.1f} % of a core"),
        ("Memory", f"{stats.rss_bytes / 1048576:.1f} MiB"),
        ("Packets/s", f"{stats.packets_per_second:.1f}"),
        ("Packets sent", f"{stats.packets_sent:,}"),
        ("Voice", f"{stats.voice_connected} of {stats.guilds} connected"),
        ("Gateway", f"{latency}, {'logged in' if stats.logged_in else 'logged out'}"),
        ("Recoveries", str(stats.recoveries)),
        ("Quiz today", quiz_today(stats)),
        ("Top today", top_today(stats)),
        ("Last backup", backup),  # last: its file name follows on a line of its own
    ]


def quiz_today(stats: BotStats) -> str:
    questions = sum(q.questions for q in stats.quiz)
    answers = sum(q.answers for q in stats.quiz)
    live = sum(q.open for q in stats.quiz)
    return f"{questions} asked, {answers} answers" + (f", {live} open" if live else "")


def top_today(stats: BotStats) -> str:
    best = sorted((t for q in stats.quiz for t in q.top), key=lambda t: -t[1])[:2]
    return ", ".join(f"{name} {points}" for name, points in best) or "—"


class StatsPane(Static):
    DEFAULT_CSS = """
    StatsPane { border: round $primary; height: auto; min-height: 14; padding: 0 1; width: 40; }
    StatsPane.-stale { border: round $panel-lighten-2; color: $text-muted; }
    """

    def on_mount(self) -> None:
        self.border_title = "Bot"
        self.show(None, link_up=False)

    def show(self, stats: BotStats | None, *, link_up: bool) -> None:
        self.set_class(not link_up, "-stale")
        if stats is None:
            self.update(Content("No figures yet."))
            return
        self.border_subtitle = f"pid {stats.pid}"
        lines = [Content.assemble((label.ljust(LABEL_WIDTH), "dim"), value) for label, value in rows(stats)]
        # the backup's name on a line of its own, kept (blank) before the first: the pane never jumps
        lines.append(Content(stats.last_backup.name if stats.last_backup else "").stylize("dim"))
        self.update(Content("\n").join(lines), layout=False)  # same height every second: no re-layout
