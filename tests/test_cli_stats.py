"""`quranbot stats`, `stats export --csv` and `stats forget` as an admin runs them: from the state files
while the bot is stopped, and over the socket of a real bot running on the sandbox.

The records are written through a real StateStore (as the bot writes them), with known seconds per
day, so the figures and the ranking are known exactly.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from processes import finish, lock_held_by_child, start_quranbot
from running_bot import RunningBot
from typer.testing import CliRunner, Result

from quranbot.cli.app import app
from quranbot.config.timezones import system_timezone
from quranbot.control import methods
from quranbot.control.client import ControlClient, ControlError
from quranbot.listening.export import CSV_COLUMNS
from quranbot.paths import Paths
from quranbot.sandbox.server import Sandbox
from quranbot.store.state import StateStore

GUILD, OTHER = 111111111111111111, 222222222222222222
AISHA, OMAR, ZAID = 300000000000000001, 300000000000000002, 300000000000000003
PRIVACY = "(they can turn it back on with /stats privacy:on)"


def today() -> datetime.date:
    """The bot's local date: no config.toml here, so the server's time zone."""
    return datetime.datetime.now(ZoneInfo(system_timezone())).date()


def save(home: Path, guild: int = GUILD, other: int | None = OTHER) -> None:
    """Aisha 3 h in all (10 min today), Omar 1.5 h (1 h today), Zaid 1 min long ago; and in the other
    server, Aisha 100 s today. "Long ago" is 60 days back: in no week or month of today's."""
    day, old = today().isoformat(), (today() - datetime.timedelta(days=60)).isoformat()
    paths = Paths.under(home)
    members = [
        (guild, AISHA, {day: 600.0, old: 10200.0}, 1),
        (guild, OMAR, {day: 3600.0, old: 1800.0}, 0),
        (guild, ZAID, {old: 60.0}, 0),
    ]
    if other is not None:
        members.append((other, AISHA, {day: 100.0}, 0))
    with StateStore(paths.state_dir, paths.backups_dir) as store:
        for guild_id, user_id, daily, khatms in members:
            live = store.buffered_listening(guild_id, user_id)
            live.daily, live.seconds, live.khatms, live.sessions = daily, sum(daily.values()), khatms, 2


PLAIN = {"COLUMNS": "200", "NO_COLOR": "1"}


def cli(home: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--home", str(home), "stats", *args], env=PLAIN)


def on_disk(home: Path, name: str) -> dict[str, Any]:
    return json.loads((Paths.under(home).state_dir / name).read_text())


def board(figures: dict[str, Any], period: str) -> list[tuple[int, str, int]]:
    return [(r["rank"], r["user_id"], r["seconds"]) for r in figures["leaderboard"][period]]


def check_guild(figures: dict[str, Any]) -> None:
    assert figures["members"] == 3 and figures["khatms"] == 1
    assert figures["hours_total"] == 4.5 and figures["hours_today"] == 1.2
    assert figures["listeners_today"] == 2
    assert board(figures, "all") == [(1, str(AISHA), 10800), (2, str(OMAR), 5400), (3, str(ZAID), 60)]
    assert board(figures, "week") == [(1, str(OMAR), 3600), (2, str(AISHA), 600)]


def test_stats_from_the_files(tmp_path: Path) -> None:
    save(tmp_path)
    shown = cli(tmp_path, "--json")
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.stdout)
    assert report["source"] == "files" and report["day"] == today().isoformat()
    assert list(report["guilds"]) == [str(GUILD), str(OTHER)]
    check_guild(report["guilds"][str(GUILD)])
    assert board(report["guilds"][str(OTHER)], "all") == [(1, str(AISHA), 100)]

    one = json.loads(cli(tmp_path, "--json", "--guild", str(OTHER), "--top", "1").stdout)
    assert list(one["guilds"]) == [str(OTHER)]
    top = json.loads(cli(tmp_path, "--json", "--top", "1").stdout)["guilds"][str(GUILD)]
    assert board(top, "all") == [(1, str(AISHA), 10800)]

    human = cli(tmp_path)
    assert human.exit_code == 0, human.output
    lines = human.stdout.splitlines()
    assert "from the files (the bot is not running)" in lines[0] and "may not be saved" not in human.stdout
    assert f"Server {GUILD}: 3 members · 4.5 h in all · 1.2 h today · 2 listeners today · 1 khatm" in lines
    rows = [line.split() for line in lines if line.strip().startswith(("1 ", "2 ", "3 "))]
    assert rows[:3] == [
        ["1", str(AISHA), "3", "h", "00", "min"],
        ["2", str(OMAR), "1", "h", "30", "min"],
        ["3", str(ZAID), "1", "min"],
    ]

    unknown = cli(tmp_path, "--guild", "333333333333333333")
    assert (
        unknown.exit_code == 1 and "No listening statistics for server 333333333333333333" in unknown.stderr
    )
    assert cli(tmp_path, "--guild", "nope").exit_code == 2


def test_a_bot_holding_the_files_but_not_answering(tmp_path: Path) -> None:
    """Starting or stopping: its socket is not up, but it holds the state and may not have saved yet."""
    save(tmp_path)
    with lock_held_by_child(Paths.under(tmp_path).state_dir) as holder:
        shown = " ".join(cli(tmp_path).stdout.split())
        assert "does not answer on its socket" in shown and "30 s of listening" in shown
        assert "may not be saved yet" in shown
        refused = cli(tmp_path, "forget", str(AISHA))
        assert refused.exit_code == 1 and f"in use by process {holder.pid}" in refused.stderr
    assert str(AISHA) in on_disk(tmp_path, "stats.json")[f"guild:{GUILD}"]


def test_a_home_with_no_statistics_says_so(tmp_path: Path) -> None:
    assert json.loads(cli(tmp_path, "--json").stdout) == {
        "source": "files",
        "day": today().isoformat(),
        "guilds": {},
    }
    assert "No member has listened yet." in cli(tmp_path).stdout


def test_export_csv_from_the_files(tmp_path: Path) -> None:
    save(tmp_path)
    exported = cli(tmp_path, "export", "--csv")
    assert exported.exit_code == 0, exported.output
    reader = csv.DictReader(io.StringIO(exported.stdout))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    rows = list(reader)
    assert [(r["guild_id"], r["user_id"]) for r in rows] == [
        (str(GUILD), str(AISHA)),
        (str(GUILD), str(OMAR)),
        (str(GUILD), str(ZAID)),
        (str(OTHER), str(AISHA)),
    ]
    aisha = rows[0]
    assert (aisha["seconds"], aisha["today_seconds"], aisha["week_seconds"], aisha["khatms"]) == (
        "10800",
        "600",
        "600",
        "1",
    )
    assert aisha["sessions"] == "2" and aisha["average_session_seconds"] == "5400"

    target = tmp_path / "listening.csv"
    written = cli(tmp_path, "export", "--csv", "--guild", str(OTHER), "--output", str(target))
    assert written.exit_code == 0, written.output
    assert f"Wrote 1 row to {target}" in written.stdout
    assert [r["user_id"] for r in csv.DictReader(target.open())] == [str(AISHA)]
    assert target.stat().st_mode & 0o777 == 0o600  # members' statistics: the admin's eyes only

    refused = cli(tmp_path, "export")
    assert refused.exit_code == 2 and "--csv is the only export format" in refused.stderr


def test_forget_while_stopped_deletes_and_opts_out(tmp_path: Path) -> None:
    save(tmp_path)
    forgot = cli(tmp_path, "forget", str(AISHA))
    assert forgot.exit_code == 0, forgot.output
    assert f"Forgot member {AISHA} in 2 servers; their listening is no longer tracked there {PRIVACY}" in (
        " ".join(forgot.stdout.split())
    )
    stats = on_disk(tmp_path, "stats.json")
    assert str(AISHA) not in stats[f"guild:{GUILD}"] and str(AISHA) not in stats[f"guild:{OTHER}"]
    assert str(OMAR) in stats[f"guild:{GUILD}"]
    opt_outs = on_disk(tmp_path, "settings.json")["listening_opt_out"]
    assert opt_outs[str(GUILD)]["users"] == [AISHA] and opt_outs[str(OTHER)]["users"] == [AISHA]

    one = cli(tmp_path, "forget", str(ZAID), "--guild", str(GUILD))
    assert f"Forgot member {ZAID} in 1 server;" in one.stdout
    assert str(ZAID) not in on_disk(tmp_path, "stats.json")[f"guild:{GUILD}"]
    assert on_disk(tmp_path, "settings.json")["listening_opt_out"][str(OTHER)]["users"] == [AISHA]
    again = cli(tmp_path, "forget", str(ZAID), "--guild", str(GUILD))
    assert again.exit_code == 0 and f"Nothing was kept about member {ZAID}; their listening" in again.stdout

    bad = cli(tmp_path, "forget", "12345")
    assert bad.exit_code == 2 and '"12345" is not a Discord id (a number of 17–20 digits)' in bad.stderr
    unknown = cli(tmp_path, "forget", str(OMAR), "--guild", "333333333333333333")
    assert unknown.exit_code == 1 and "No server 333333333333333333" in unknown.stderr
    assert str(OMAR) in on_disk(tmp_path, "stats.json")[f"guild:{GUILD}"]


def test_an_unreadable_stats_file_is_reported_not_repaired(tmp_path: Path) -> None:
    save(tmp_path)
    path = Paths.under(tmp_path).state_dir / "stats.json"
    path.write_bytes(b'{"guild:1": {"2": ')
    for args in (["--json"], ["export", "--csv"], ["forget", str(AISHA)]):
        failed = cli(tmp_path, *args)
        assert failed.exit_code == 1, args
        assert f"{path} is unreadable (not JSON" in " ".join(failed.stderr.split()), args
        assert "restores the newest good copy from the backups" in " ".join(failed.stderr.split())
    assert path.read_bytes() == b'{"guild:1": {"2": '  # forget did not open the store over it


async def quranbot(home: Path, *args: str) -> tuple[int, str, str]:
    return await finish(await start_quranbot("--home", str(home), "stats", *args))


async def test_with_the_bot_running(sandbox: Sandbox, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The socket answers: the same figures, an export paged one row at a time, and a forget that
    the running bot does (and keeps: it writes the files at its stop)."""
    guild = sandbox.default.guild.id
    save(home, guild, other=None)
    monkeypatch.setattr(methods, "EXPORT_PAGE_BYTES", 1)  # every page one row: the CLI must follow them
    monkeypatch.setattr(methods, "EXPORT_BATCH", 1)
    async with RunningBot(sandbox, home):
        code, out, err = await quranbot(home, "--json")
        assert code == 0, err
        report = json.loads(out)
        assert report["source"] == "bot" and list(report["guilds"]) == [str(guild)]
        check_guild(report["guilds"][str(guild)])
        code, out, _ = await quranbot(home)
        assert "Listening statistics from the running bot" in out

        code, out, err = await quranbot(home, "export", "--csv")
        assert code == 0, err
        assert [r["user_id"] for r in csv.DictReader(io.StringIO(out))] == [str(AISHA), str(OMAR), str(ZAID)]

        client = await ControlClient.connect(Paths.under(home).control_socket)
        try:
            (today_figures,) = (await client.call("stats"))["listening"]
            assert today_figures["guild_id"] == str(guild) and today_figures["listeners_today"] == 2
            assert [(t["user_id"], t["name"], t["seconds"]) for t in today_figures["top_week"]] == [
                (str(OMAR), str(OMAR), 3600),
                (str(AISHA), str(AISHA), 600),
            ]
            member = (await client.call("listening", guild=str(guild), member=str(AISHA)))["member"]
            assert member["seconds"] == 10800 and member["khatms"] == 1 and member["opted_out"] is False
            for method, params, code_expected, message in (
                ("listening.forget", {"user": "aisha"}, "bad_params", '"user" must be a Discord id'),
                ("listening.forget", {}, "bad_params", '"user" is required'),
                ("listening", {"guild": "333333333333333333"}, "not_found", "no guild 333333333333333333"),
                ("listening", {"top": 0}, "bad_params", '"top" must be between 1 and 100'),
            ):
                with pytest.raises(ControlError) as refused:
                    await client.call(method, **params)
                assert refused.value.code == code_expected and message in refused.value.message, method
        finally:
            await client.close()

        code, out, err = await quranbot(home, "forget", str(AISHA))
        assert code == 0, err
        assert f"Forgot member {AISHA} in 1 server; their listening is no longer tracked" in out
        code, out, _ = await quranbot(home, "--json")
        assert [r[1] for r in board(json.loads(out)["guilds"][str(guild)], "all")] == [str(OMAR), str(ZAID)]
    assert str(AISHA) not in on_disk(home, "stats.json")[f"guild:{guild}"]
    assert AISHA in on_disk(home, "settings.json")["listening_opt_out"][str(guild)]["users"]
