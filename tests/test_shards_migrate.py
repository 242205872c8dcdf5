"""`quranbot shards migrate`: every kind of record of every guild reaches the shard that owns it under the
new count, and back again unchanged; nothing moves while a bot runs; the old state is set aside, not lost;
a shard's store never writes a guild it does not own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from processes import lock_held_by_child, run_quranbot

from quranbot.paths import Paths
from quranbot.shards.layout import LayoutMismatch, check_layout, read_marker
from quranbot.shards.migrate import MigrationError, migrate
from quranbot.shards.ownership import Shard, shard_of
from quranbot.store.records import (
    DailyVerseState,
    GuildPlayback,
    GuildSettings,
    ListeningStats,
    OpenQuiz,
    QuizGuild,
    QuizScore,
    SurahAudience,
)
from quranbot.store.state import StateStore

#: Guild ids whose time stamps (id >> 22) are 0 to 5: shards 0,1,0,1,0,1 of 2 and 0,1,2,0,1,2 of 3.
GUILDS = [(stamp << 22) | (1000 + stamp) for stamp in range(6)]


def fill(store: StateStore, guild: int) -> None:
    """One record of every kind the store keeps about a guild, each with values of its own."""
    store.set_playback(
        GuildPlayback(guild, reciter="sample-tones", surah=guild % 114 + 1, position_frames=77)
    )
    store.set_surah_audience(SurahAudience(guild, surah=3, reciter="sample-tones", members=[guild + 1]))
    store.save_settings(GuildSettings(guild, voice_channel_id=guild + 2, panel_channel_id=guild + 3))
    store.save_daily_verse(DailyVerseState(guild, last_slot="2026-05-01", posted=[1, 2], rounds=1))
    store.set_listening_opt_out(guild, guild + 4, True)
    store.save_listener_role_holders(guild, guild + 5, {guild + 6})
    store.save_quiz_scores(
        guild, [QuizScore(guild, guild + 7, points=10), QuizScore(guild, guild + 8, points=3)]
    )
    store.put_listening(
        ListeningStats(guild, guild + 9, seconds=600.0, sessions=2, daily={"2026-05-01": 600.0})
    )
    store.save_quiz_guild(QuizGuild(guild, deadline_seconds=45, history=["q1"]))
    store.save_open_quiz(OpenQuiz(guild + 10, guild, guild + 11, "q1", 1.0, 31.0, answers={"5": [1, 2.5]}))


def snapshot(store: StateStore, guild: int) -> dict[str, Any]:
    """Everything `store` says about `guild`, through its getters."""
    return {
        "playback": store.playback(guild).to_document(),
        "audience": store.surah_audience(guild).to_document(),
        "settings": store.saved_settings(guild).to_document(),
        "daily_verse": store.daily_verse(guild).to_document(),
        "opt_out": sorted(store.listening_opt_outs(guild)),
        "role": store.listener_role_holders(guild),
        "quiz": sorted((s.to_document() for s in store.quiz_scores(guild)), key=lambda d: d["user_id"]),
        "listening": sorted(
            (s.to_document() for s in store.all_listening(guild)), key=lambda d: d["user_id"]
        ),
        "quiz_guild": store.quiz_guild(guild).to_document(),
        "open": [q.to_document() for q in store.open_quizzes() if q.guild_id == guild],
    }


def store_at(directory: Path) -> StateStore:
    return StateStore(directory, directory / "backups").open()


def read_all(paths: Paths, shard: int | None) -> dict[int, dict[str, Any]]:
    store = store_at(paths.for_shard(shard).state_dir)
    try:
        return {g: snapshot(store, g) for g in sorted(set().union(*store.stored_guilds().values()))}
    finally:
        store.close()


def test_every_record_moves_to_its_shard_and_back(tmp_path: Path) -> None:
    paths = Paths.under(tmp_path)
    store = store_at(paths.state_dir)
    for guild in GUILDS:
        fill(store, guild)
    original = {g: snapshot(store, g) for g in GUILDS}
    store.close()
    (paths.state_root / "audit.jsonl").write_text("{}\n")
    (paths.audio_dir).mkdir(parents=True)

    report = migrate(paths.state_root, 1, 2)
    assert report.guilds == {g: shard_of(g, 2) for g in GUILDS} and report.moved == len(GUILDS)
    assert report.kinds == dict.fromkeys(
        ["playback", "audience", "settings", "daily_verse", "listening_opt_out", "listener_role",
         "quiz_scores", "listening", "quiz_guild", "open_quizzes"], len(GUILDS),
    )  # fmt: skip
    for shard in (0, 1):
        held = read_all(paths, shard)
        assert held == {g: original[g] for g in GUILDS if shard_of(g, 2) == shard}
        assert read_marker(paths.for_shard(shard).state_dir) == 2
    check_layout(paths.for_shard(0), 2)  # a bot of 2 shards may start now; unsharded may not
    with pytest.raises(LayoutMismatch, match="--from-count 2 --to-count 1"):
        check_layout(paths, None)
    assert report.set_aside is not None and (report.set_aside / "unsharded" / "audit.jsonl").is_file()
    assert (report.set_aside / "unsharded" / "playback.json").is_file(), "the old state is kept aside"
    assert paths.audio_dir.is_dir(), "the audio library stays where every shard reads it"

    with pytest.raises(LayoutMismatch, match="--from-count 2 --to-count 3"):
        check_layout(paths.for_shard(0), 3)
    three = migrate(paths.state_root, 2, 3)
    assert three.moved == sum(shard_of(g, 2) != shard_of(g, 3) for g in GUILDS) > 0
    for shard in (0, 1, 2):
        assert read_all(paths, shard) == {g: original[g] for g in GUILDS if shard_of(g, 3) == shard}

    back = migrate(paths.state_root, 3, 1)
    assert set(back.guilds.values()) == {None}
    assert read_all(paths, None) == original
    assert not any(p.name.startswith("shard-") for p in paths.state_root.iterdir())
    assert not any(p.name.startswith(".migrate-") for p in paths.state_root.iterdir())


def test_nothing_moves_while_a_bot_runs_or_the_counts_do_not_match(tmp_path: Path) -> None:
    paths = Paths.under(tmp_path)
    store = store_at(paths.state_dir)
    fill(store, GUILDS[0])
    store.close()
    before = sorted(p.name for p in paths.state_root.iterdir())
    with (
        lock_held_by_child(paths.state_root) as child,
        pytest.raises(MigrationError, match=rf"QuranBot is running \(process {child.pid} holds"),
    ):
        migrate(paths.state_root, 1, 2)
    with pytest.raises(MigrationError, match="--from-count 1 to move it into 2 shards"):
        migrate(paths.state_root, 2, 3)
    with pytest.raises(MigrationError, match="both 2: nothing to move"):
        migrate(paths.state_root, 2, 2)
    assert sorted(p.name for p in paths.state_root.iterdir()) == before

    migrate(paths.state_root, 1, 2)
    with pytest.raises(MigrationError, match=r"shard-\d is shard \d of 2, not of --from-count 3"):
        migrate(paths.state_root, 3, 1)
    with pytest.raises(MigrationError, match="holds shard directories"):
        migrate(paths.state_root, 1, 3)
    shard = shard_of(GUILDS[0], 2)
    with lock_held_by_child(paths.for_shard(shard).state_dir), pytest.raises(MigrationError, match="running"):
        migrate(paths.state_root, 2, 1)


def test_a_shards_store_never_writes_a_guild_it_does_not_own(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    store.owns_guild = Shard(0, 2).owns
    ours, theirs = GUILDS[0], GUILDS[1]
    for guild in (ours, theirs):
        fill(store, guild)
        store.buffered_listening(guild, 1).seconds = 5.0
    store.flush()
    assert {kind: guilds for kind, guilds in store.stored_guilds().items()} == {
        kind: {ours} for kind in store.stored_guilds()
    }
    store.close()
    for name in ("playback.json", "settings.json", "quiz.json", "stats.json", "quizzes.json"):
        assert str(theirs) not in (tmp_path / name).read_text(), name


def test_the_command_moves_and_says_what_to_do_next(tmp_path: Path) -> None:
    paths = Paths.under(tmp_path)
    store = store_at(paths.state_dir)
    for guild in GUILDS[:3]:
        fill(store, guild)
    store.close()
    result = run_quranbot(
        "--home", str(tmp_path), "shards", "migrate", "--from-count", "1", "--to-count", "2"
    )
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stdout.split())
    assert "Moved 3 guilds from 1 to 2 shard(s) (3 changed directory): 2 in shard 0, 1 in shard 1." in said
    assert "quranbot config set shard_count 2" in said
    listed = run_quranbot("--home", str(tmp_path), "shards", "list", "--json")
    report = json.loads(listed.stdout)
    assert [
        (d["shard"], d["shard_count"], d["has_state"], d["running_pid"]) for d in report["directories"]
    ] == [
        (0, 2, True, None),
        (1, 2, True, None),
    ]
    again = run_quranbot("--home", str(tmp_path), "shards", "migrate", "--from-count", "1", "--to-count", "2")
    assert again.returncode == 1 and "holds shard directories (shard-0, shard-1)" in again.stderr
