"""The bot's vital signs, from the `stats` topic (once a second): uptime, CPU, memory, packets, the
quiz today, the shown guild's listening today and this week's best listeners, backups.

Labels sit in a fixed column and each value runs to the pane's edge, so a value that grows a digit
never moves anything else.
"""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from textual.content import Content
from textual.widgets import Static

from quranbot.listening.figures import format_duration
from quranbot.tui.records import BotStats, ListeningToday

LABEL_WIDTH = 16
#: The pane's width (as in its CSS), and what is left for a value: inside the border and the
#: padding, after the label.
WIDTH = 43
VALUE_WIDTH = WIDTH - 4 - LABEL_WIDTH
#: Members shown under "Top this week", one a line; the lines are always there, so nothing jumps.
TOP_WEEK = 3


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


def rows(stats: BotStats, guild_id: str | None = None) -> list[tuple[str, str]]:
    latency = "—" if stats.gateway_latency_ms is None else f"{stats.gateway_latency_ms:.0f} ms"
    backup = "none yet" if stats.last_backup is None else f"{duration(stats.last_backup.age)} ago"
    listening = listening_of(stats, guild_id)
    first, *more = top_week(listening)
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
        ("Listening today", listening_today(listening)),
        ("Top this week", first),
        *(("", line) for line in more),
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


def listening_of(stats: BotStats, guild_id: str | None) -> ListeningToday | None:
    """The shown guild's listening; with no guild shown yet, the only guild's, if there is one."""
    if guild_id is None:
        return stats.listening[0] if len(stats.listening) == 1 else None
    return next((g for g in stats.listening if g.guild_id == guild_id), None)


def listening_today(listening: ListeningToday | None) -> str:
    if listening is None:
        return "—"
    count = listening.listeners
    return f"{listening.hours:.1f} h · {count} listener{'' if count == 1 else 's'}"


def top_week(listening: ListeningToday | None) -> list[str]:
    """TOP_WEEK lines, "name  3 h 05 min" each, the name cut to fit; "—" alone if nobody listened."""
    best = listening.top_week[:TOP_WEEK] if listening else ()
    lines = []
    for name, seconds in best:
        time = format_duration(seconds)
        room = VALUE_WIDTH - len(time) - 1
        shown = name if cell_len(name) <= room else set_cell_size(name, room - 1) + "…"
        lines.append(f"{set_cell_size(shown, room)} {time}")
    return (lines or ["—"]) + [""] * (TOP_WEEK - max(1, len(lines)))


class StatsPane(Static):
    DEFAULT_CSS = """
    StatsPane { border: round $primary; height: auto; min-height: 18; padding: 0 1; width: 43; }
    StatsPane.-stale { border: round $panel-lighten-2; color: $text-muted; }
    """

    def on_mount(self) -> None:
        self.border_title = "Bot"
        self.show(None, link_up=False)

    def show(self, stats: BotStats | None, *, link_up: bool, guild_id: str | None = None) -> None:
        """`guild_id`: the guild shown in the other panes, whose listening this pane shows."""
        self.set_class(not link_up, "-stale")
        if stats is None:
            self.update(Content("No figures yet."))
            return
        self.border_subtitle = f"pid {stats.pid}"
        lines = [
            Content.assemble((label.ljust(LABEL_WIDTH), "dim"), value)
            for label, value in rows(stats, guild_id)
        ]
        # the backup's name on a line of its own, kept (blank) before the first: the pane never jumps
        lines.append(Content(stats.last_backup.name if stats.last_backup else "").stylize("dim"))
        self.update(Content("\n").join(lines), layout=False)  # same height every second: no re-layout
