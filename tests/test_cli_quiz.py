"""`quranbot quiz ...` as an admin runs it: real processes, real bank files, a real banks directory.

The good bank is the complete example in docs/QUIZ.md, so the documented example is kept valid.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
from processes import run_quranbot
from typer.testing import CliRunner, Result

from quranbot.cli.app import app
from quranbot.paths import Paths
from quranbot.quiz.bank import BankLoader

ROOT = Path(__file__).resolve().parent.parent
PROBLEM_LINE = re.compile(r"^(.+?):(\d+): (.+)$")


def quiz(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_quranbot("--home", str(home), "quiz", *args)


def in_process(home: Path, *args: str) -> Result:
    """The same command in this process (the bank is generated once per process, so this is quicker)."""
    return CliRunner().invoke(app, ["--home", str(home), "quiz", *args])


def documented_example() -> str:
    [example] = re.findall(r"```toml\n(.*?)```", (ROOT / "docs" / "QUIZ.md").read_text(), re.S)
    return str(example)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def broken(text: str) -> str:
    """The example with three faults: a letter that is no choice, a duplicate choice, a missing ayah."""
    text = text.replace('answer = "B"', 'answer = "E"', 1)
    text = text.replace('"the Worlds", "the East"', '"the Worlds", "The  worlds"', 1)
    return text.replace('{ quran = "112:1", quote', '{ quran = "112:700", quote', 1)


def test_validate_prints_a_summary_or_every_problem(tmp_path: Path) -> None:
    good = write(tmp_path / "basics.toml", documented_example())
    checked = quiz(tmp_path / "home", "validate", str(good))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == f"{good}: OK, 2 questions (2 quran) in bank 'Quran basics'"

    bad = write(tmp_path / "bad.toml", broken(documented_example()))
    failed = quiz(tmp_path / "home", "validate", str(bad))
    assert failed.returncode == 1
    lines = failed.stdout.strip().split("\n")
    matches = [PROBLEM_LINE.match(line) for line in lines]
    assert all(matches) and len(lines) == 3, failed.stdout
    text = bad.read_text().split("\n")
    for match, needle in zip(matches, ('answer = "E"', '"112:700"', '"The  worlds"'), strict=True):
        assert match is not None and match.group(1) == str(bad)
        assert needle in text[int(match.group(2)) - 1], (match.group(0), needle)
    assert "3 problems in" in failed.stderr


def test_import_is_all_or_nothing_and_a_running_loader_sees_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    banks = Paths.under(home).quiz_banks_dir
    loader = BankLoader(banks)  # as a running bot holds it
    before = loader.bank()
    assert before.get("basics-ikhlas-one") is None

    bad = write(tmp_path / "bad.toml", broken(documented_example()))
    refused = quiz(home, "import", str(bad))
    assert refused.returncode == 1
    assert "nothing was imported" in refused.stderr and f"{bad}:" in refused.stdout
    assert not banks.exists()

    good = write(tmp_path / "basics.toml", documented_example())
    imported = quiz(home, "import", str(good))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    target = banks / "quran-basics.toml"
    assert "Imported bank 'Quran basics': 2 questions (2 quran)" in imported.stdout
    assert "picks it up by itself" in imported.stdout
    assert target.read_bytes() == good.read_bytes()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and stat.S_IMODE(banks.stat().st_mode) == 0o700

    seen = loader.bank()  # no restart
    assert seen is not before and seen.get("basics-ikhlas-one") is not None
    assert len(seen) == len(before) + 2

    again = in_process(home, "import", str(good))
    assert again.exit_code == 1 and "already imported" in again.stderr and "--force" in again.stderr
    changed = write(good, documented_example().replace("Short questions on short surahs.", "Version 2."))
    replaced = in_process(home, "import", str(changed), "--force")  # checked without the version it replaces
    assert replaced.exit_code == 0, replaced.output
    assert "Replaced bank 'Quran basics'" in replaced.stdout and target.read_bytes() == changed.read_bytes()

    # Another bank reusing an imported id is refused, and the banks directory stays as it was.
    clash = write(
        tmp_path / "clash.toml", documented_example().replace('name = "Quran basics"', 'name = "Clash"')
    )
    listing = sorted(banks.iterdir())
    refused = in_process(home, "import", str(clash))
    assert refused.exit_code == 1 and sorted(banks.iterdir()) == listing
    assert "id is in the bank already (quran-basics.toml)" in refused.stdout
    assert "a near-duplicate of 'basics-ikhlas-one' (quran-basics.toml, 100% alike)" in refused.stdout


def test_list_and_stats(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert quiz(home, "import", str(write(tmp_path / "b.toml", documented_example()))).returncode == 0

    listed = in_process(home, "list", "--json")
    assert listed.exit_code == 0, listed.output
    questions = json.loads(listed.stdout)
    by_id = {q["id"]: q for q in questions}
    falaq = by_id["basics-falaq-refuge"]
    assert falaq["answer"] == "D" and falaq["source"] == "quran-basics.toml" and len(falaq["references"]) == 3
    assert "gen:name-of:18" in by_id and by_id["gen:name-of:18"]["references"]
    assert any(q["source"] == "quran-verses.toml" for q in questions)
    assert all(q["references"] for q in questions)
    assert "ٱلْفَلَقِ" in listed.stdout  # ensure_ascii=False: Arabic as it is

    beginners = json.loads(in_process(home, "list", "--json", "--difficulty", "beginner").stdout)
    assert beginners and {q["difficulty"] for q in beginners} == {"beginner"}
    table = quiz(home, "list", "--category", "quran", "--difficulty", "intermediate")
    assert (
        table.returncode == 0 and "basics-falaq-refuge" in table.stdout and "D. the Daybreak" in table.stdout
    )
    assert "basics-ikhlas-one" not in table.stdout  # a beginner question
    wrong = in_process(home, "list", "--category", "poetry")
    assert wrong.exit_code == 2 and "not one of quran, hadith, fiqh, history" in wrong.stderr

    stats = in_process(home, "stats", "--json")
    assert stats.exit_code == 0, stats.output
    bank = json.loads(stats.stdout)["bank"]
    assert [s["kind"] for s in bank["sources"]] == ["generated", "shipped", "imported"]
    assert bank["total"] == len(questions) == sum(s["questions"] for s in bank["sources"])
    assert sum(bank["difficulties"].values()) == sum(bank["categories"].values()) == bank["total"]
    assert bank["categories"]["hadith"] == 0 and bank["templates"]["name-of"] == 114
    shown = quiz(home, "stats")
    assert shown.returncode == 0 and "Quran basics" in shown.stdout and "By difficulty" in shown.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="only root imports for another user")
def test_root_imports_for_the_bots_user(tmp_path: Path) -> None:
    """`sudo quranbot quiz import`: the bank belongs to the state directory's owner (the bot's user), or
    the bot could not read a 0600 file in a 0700 directory."""
    home = tmp_path / "home"
    state = Paths.under(home).state_dir
    state.mkdir(parents=True)
    os.chown(state, 65534, 65534)
    imported = in_process(home, "import", str(write(tmp_path / "b.toml", documented_example())))
    assert imported.exit_code == 0, imported.output
    banks = Paths.under(home).quiz_banks_dir
    for path in (banks, banks / "quran-basics.toml"):
        assert (path.stat().st_uid, path.stat().st_gid) == (65534, 65534), path
    assert [p.name for p in banks.iterdir()] == ["quran-basics.toml"]  # nothing staged is left


def test_stats_shows_each_servers_players_from_the_file(tmp_path: Path) -> None:
    from quranbot.store.records import QuizScore
    from quranbot.store.state import StateStore

    paths = Paths.under(tmp_path)
    with StateStore(paths.state_dir, paths.backups_dir) as store:
        store.save_quiz_scores(
            111111111111111111,
            [
                QuizScore(111111111111111111, 7, points=40, answered=4, correct=3, best_streak=2),
                QuizScore(111111111111111111, 8, points=40, answered=2, correct=2, best_streak=2),
                QuizScore(111111111111111111, 9, points=12, answered=4, correct=1, best_streak=1),
            ],
        )
    done = quiz(tmp_path, "stats", "--json")
    assert done.returncode == 0, done.stderr
    guild = json.loads(done.stdout)["guilds"]["111111111111111111"]
    assert guild["players"] == 3 and guild["answers"] == 10 and guild["accuracy"] == 0.6
    assert [(r["rank"], r["user_id"]) for r in guild["top"]] == [(1, "7"), (1, "8"), (3, "9")]
    shown = quiz(tmp_path, "stats")
    assert "Server 111111111111111111: 3 players, 10 answers, 60% right" in shown.stdout


def test_sharded_stats_read_every_shards_servers(tmp_path: Path) -> None:
    from quranbot.config.schema import Config
    from quranbot.config.write import write_config
    from quranbot.store.records import QuizScore
    from quranbot.store.state import StateStore

    paths = Paths.under(tmp_path)
    write_config(paths.config_file, Config(shard_count=2))
    guilds = {0: 5 << 22, 1: 6 << 22}  # shard 0 and shard 1 of 2
    for shard, guild in guilds.items():
        state_dir = paths.for_shard(shard).state_dir
        with StateStore(state_dir, state_dir / "backups") as store:
            store.save_quiz_scores(guild, [QuizScore(guild, 7, points=10 + shard, answered=2, correct=1)])
    done = quiz(tmp_path, "stats", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["shards"] == {str(guilds[0]): 0, str(guilds[1]): 1}
    assert {g: f["top"][0]["points"] for g, f in report["guilds"].items()} == {
        str(guilds[0]): 10,
        str(guilds[1]): 11,
    }
    shown = quiz(tmp_path, "stats", "--shard", "1")
    assert f"Server {guilds[1]} (shard 1): 1 players, 2 answers, 50% right" in shown.stdout
    assert str(guilds[0]) not in shown.stdout
