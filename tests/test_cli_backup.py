"""`quranbot backup ...` as an admin runs it: a real process, real archives, a real lock holder."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from processes import lock_held_by_child, run_quranbot

from quranbot.config.schema import Config
from quranbot.config.write import write_config
from quranbot.paths import Paths
from quranbot.store.layout import PLAYBACK, SETTINGS, STATE_FILES, STATS


def quranbot(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return run_quranbot("--home", str(home), "backup", *args, stdin=stdin)


def write(state_dir: Path, files: dict[str, object]) -> dict[str, bytes]:
    state_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, tables in files.items():
        raw = json.dumps(tables).encode()
        (state_dir / name).write_bytes(raw)
        written[name] = raw
    return written


def snapshot(state_dir: Path) -> dict[str, bytes]:
    return {n: (state_dir / n).read_bytes() for n in STATE_FILES if (state_dir / n).exists()}


def test_create_list_verify_corrupt_restore(tmp_path: Path) -> None:
    paths = Paths.under(tmp_path)
    original = write(
        paths.state_dir, {PLAYBACK: {"guild:1": {"1": {"surah": 36}}}, SETTINGS: {"_default": {}}}
    )

    made = quranbot(tmp_path, "create")
    assert made.returncode == 0, made.stderr
    [first] = sorted(paths.backups_dir.glob("quranbot-backup-*.zip"))
    assert first.name in made.stdout and "playback.json, settings.json" in made.stdout

    listed = quranbot(tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    assert first.name in listed.stdout and "ok" in listed.stdout

    verified = quranbot(tmp_path, "verify", first.name)
    assert verified.returncode == 0 and "OK" in verified.stdout

    # A second backup of different state, then damage its bytes (the start of the first member's data).
    write(paths.state_dir, {PLAYBACK: {"guild:1": {"1": {"surah": 112}}}, STATS: {"_default": {}}})
    assert quranbot(tmp_path, "create").returncode == 0
    second = next(p for p in paths.backups_dir.glob("*.zip") if p != first)
    raw = bytearray(second.read_bytes())
    raw[40:60] = b"\xff" * 20
    second.write_bytes(bytes(raw))

    one = quranbot(tmp_path, "verify", str(second))  # by path
    assert one.returncode == 1
    assert f"INVALID {second.name}: manifest.json is damaged" in one.stdout
    every = quranbot(tmp_path, "verify")
    assert every.returncode == 1 and f"OK      {first.name}" in every.stdout
    assert "1 of 2 backups are invalid" in every.stderr
    listed = quranbot(tmp_path, "list")
    assert (
        listed.returncode == 0 and "INVALID" in listed.stdout and "manifest.json is damaged" in listed.stdout
    )

    refused = quranbot(tmp_path, "restore", second.name, "--yes")
    assert refused.returncode == 1 and "Not restoring" in refused.stderr

    declined = quranbot(tmp_path, "restore", first.name, stdin="n\n")
    assert declined.returncode == 1 and "Nothing changed" in declined.stdout
    assert snapshot(paths.state_dir)[PLAYBACK] != original[PLAYBACK]

    restored = quranbot(tmp_path, "restore", first.name, "--yes")
    assert restored.returncode == 0, restored.stderr
    assert snapshot(paths.state_dir) == original  # exact bytes; stats.json moved aside
    assert list(paths.state_dir.glob(f"{STATS}.pre-restore-*"))
    assert "The state before the restore is in" in restored.stdout

    missing = quranbot(tmp_path, "restore", "quranbot-backup-19990101T000000Z.zip", "--yes")
    assert missing.returncode == 1 and "No backup" in missing.stderr


def test_restore_refuses_while_the_bot_holds_the_state(tmp_path: Path) -> None:
    paths = Paths.under(tmp_path)
    write(paths.state_dir, {SETTINGS: {"_default": {"1": {"voice_channel": 1}}}})
    assert quranbot(tmp_path, "create").returncode == 0
    [archive] = paths.backups_dir.glob("*.zip")
    now = write(paths.state_dir, {SETTINGS: {"_default": {"1": {"voice_channel": 2}}}})

    with lock_held_by_child(paths.state_dir) as child:
        refused = quranbot(tmp_path, "restore", archive.name, "--yes")
    assert refused.returncode == 1
    assert f"QuranBot is running (process {child.pid})" in refused.stderr
    assert "systemctl stop quranbot" in refused.stderr and "Ctrl+C on `quranbot run`" in refused.stderr
    assert snapshot(paths.state_dir) == now
    assert list(paths.backups_dir.glob("*.zip")) == [archive]  # not even a safety backup


def test_sharded_every_shard_is_backed_up_and_a_restore_names_its_shard(tmp_path: Path) -> None:
    paths = Paths.under(tmp_path)
    write_config(paths.config_file, Config(shard_count=2))
    shard_dirs = [paths.for_shard(shard).state_dir for shard in (0, 1)]
    before = [write(shard_dirs[s], {PLAYBACK: {"guild:1": {str(s): {"surah": 36 + s}}}}) for s in (0, 1)]

    made = quranbot(tmp_path, "create")
    assert made.returncode == 0, made.stderr
    archives = [sorted((d / "backups").glob("quranbot-backup-*.zip")) for d in shard_dirs]
    assert [len(a) for a in archives] == [1, 1]
    for shard in (0, 1):
        assert f"shard {shard}: Backed up playback.json to {archives[shard][0]}" in " ".join(
            made.stdout.split()
        )
    assert not (paths.state_root / "backups").exists(), "nothing unsharded"
    only = quranbot(tmp_path, "create", "--shard", "1")
    assert only.returncode == 0 and "shard 0" not in only.stdout and "shard 1: Backed up" in only.stdout
    archives[1] = sorted((shard_dirs[1] / "backups").glob("quranbot-backup-*.zip"))
    assert len(archives[1]) == 2 and len(list((shard_dirs[0] / "backups").glob("*.zip"))) == 1

    listed = "".join(quranbot(tmp_path, "list").stdout.split())  # a title wraps anywhere
    for shard in (0, 1):
        assert "".join(f"Backups of shard {shard} in {shard_dirs[shard] / 'backups'}".split()) in listed
    assert quranbot(tmp_path, "list", "--shard", "2").returncode == 2

    broken = archives[1][-1]
    broken.write_bytes(b"PK not a zip")
    verified = quranbot(tmp_path, "verify")
    assert verified.returncode == 1 and "1 of 2 shards have invalid backups" in verified.stderr
    shown = " ".join(verified.stdout.split())
    assert f"── shard 0 ({shard_dirs[0]}) OK" in shown and f"INVALID {broken.name}" in shown
    assert quranbot(tmp_path, "verify", "--shard", "0").returncode == 0
    named = quranbot(tmp_path, "verify", archives[0][-1].name, "--shard", "0")
    assert named.returncode == 0 and f"OK {archives[0][-1].name}" in " ".join(named.stdout.split())

    # a restore acts on one shard's state only: --shard is required, another shard's backup refused
    for shard in (0, 1):
        write(shard_dirs[shard], {PLAYBACK: {"guild:1": {str(shard): {"surah": 1}}}})
    changed = [snapshot(d) for d in shard_dirs]
    unnamed = quranbot(tmp_path, "restore", archives[1][0].name, "--yes")
    assert unnamed.returncode == 2 and "say which with --shard N (shards 0, 1)" in unnamed.stderr
    foreign = quranbot(tmp_path, "restore", str(archives[1][0]), "--shard", "0", "--yes")
    assert foreign.returncode == 1 and "is a backup of shard 1" in foreign.stderr
    with lock_held_by_child(shard_dirs[1]) as running:
        busy = quranbot(tmp_path, "restore", archives[1][0].name, "--shard", "1", "--yes")
        assert (
            busy.returncode == 1 and f"Shard 1 of QuranBot is running (process {running.pid})" in busy.stderr
        )
        assert "systemctl stop quranbot@1" in busy.stderr
    with lock_held_by_child(shard_dirs[0]):  # another shard running is no obstacle
        done = quranbot(tmp_path, "restore", archives[1][0].name, "--shard", "1", "--yes")
    assert done.returncode == 0, done.stderr
    assert snapshot(shard_dirs[1]) == before[1] and snapshot(shard_dirs[0]) == changed[0]
    assert '"action":"backup.restore"' in (shard_dirs[1] / "audit.jsonl").read_text()
    assert not (shard_dirs[0] / "audit.jsonl").exists()

    # a name found in one shard's backups is that shard's; in two, --shard says which
    twin = "quranbot-backup-20300101T000000Z.zip"
    (shard_dirs[0] / "backups" / twin).write_bytes(archives[0][0].read_bytes())
    found = quranbot(tmp_path, "verify", twin)
    assert found.returncode == 0 and f"── shard 0 ({shard_dirs[0]}) OK {twin}" in " ".join(
        found.stdout.split()
    )
    (shard_dirs[1] / "backups" / twin).write_bytes(archives[0][0].read_bytes())
    both = quranbot(tmp_path, "verify", twin)
    assert both.returncode == 2 and f"'{twin}' is a backup of shard 0 and shard 1: say which" in both.stderr


def test_unsharded_refuses_a_shard_option(tmp_path: Path) -> None:
    write(Paths.under(tmp_path).state_dir, {PLAYBACK: {}})
    refused = quranbot(tmp_path, "create", "--shard", "0")
    assert refused.returncode == 2 and "QuranBot does not run as shards here" in refused.stderr
    assert not Paths.under(tmp_path).backups_dir.exists()
