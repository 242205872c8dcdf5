"""`quranbot backup ...` as an admin runs it: a real process, real archives, a real lock holder."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from processes import lock_held_by_child, run_quranbot

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
