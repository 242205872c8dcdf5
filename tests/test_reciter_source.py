"""Reading what an admin hands to `reciter import`: real folders and real zip archives in tmp_path.

Hostile and damaged archives are built byte for byte here (zipfile writes a member named `../x.mp3`
as given when handed a ZipInfo), and unreadability is tested from a child process that has dropped
root, since root ignores permission bits.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import stat
import tempfile
import zipfile
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from quranbot.audio.source import SourceError, open_source, unsafe_member_reason

AUDIO = bytes(range(256)) * 64  # 16 KiB stand-in: these tests never decode audio


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())


def write_zip(path: Path, members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A zip whose member names are stored exactly as given (ZipInfo bypasses zipfile's own cleanup)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            archive.writestr(info, data)
    return path


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system temp folder, redirected so a test can see everything written there."""
    folder = tmp_path / "system-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


# --- folders -------------------------------------------------------------------------------------


def test_a_folder_lists_regular_files_sorted_and_says_what_it_skipped(tmp_path: Path) -> None:
    root = tmp_path / "Reciter"
    (root / "b" / "deeper").mkdir(parents=True)
    (root / "__MACOSX").mkdir()
    (root / "__MACOSX" / "._002.mp3").write_bytes(b"junk")
    (root / "002.mp3").write_bytes(AUDIO)
    (root / "001.mp3").write_bytes(AUDIO[:100])
    (root / "._001.mp3").write_bytes(b"junk")
    (root / "b" / "deeper" / "003.mp3").write_bytes(b"x")
    (root / "empty").mkdir()
    (root / "link.mp3").symlink_to(root / "001.mp3")
    (root / "outside").symlink_to(tmp_path)
    os.mkfifo(root / "pipe.mp3")

    with open_source(root) as source:
        files = source.files()
        assert [f.relative for f in files] == ["001.mp3", "002.mp3", "b/deeper/003.mp3"]
        assert [f.size for f in files] == [100, len(AUDIO), 1]
        skipped = {s.relative: s.reason for s in source.skipped}
    assert set(skipped) == {"._001.mp3", "__MACOSX", "link.mp3", "outside", "pipe.mp3"}
    assert "symbolic link" in skipped["link.mp3"] and "not followed" in skipped["outside"]
    assert "macOS" in skipped["._001.mp3"] and "macOS" in skipped["__MACOSX"]
    assert "not a regular file" in skipped["pipe.mp3"]


def test_a_folder_file_is_materialized_as_itself_and_hashed_like_hashlib(tmp_path: Path) -> None:
    (tmp_path / "018.mp3").write_bytes(AUDIO)
    with open_source(tmp_path) as source:
        (item,) = source.files()
        with item.materialize() as path:
            assert path == tmp_path / "018.mp3"
        assert item.sha256() == hashlib.sha256(AUDIO).hexdigest()
        (tmp_path / "018.mp3").write_bytes(b"changed")
        assert item.sha256() == hashlib.sha256(AUDIO).hexdigest()  # computed once, then cached
    assert (tmp_path / "018.mp3").exists()


def test_a_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-reciter"
    with pytest.raises(SourceError, match=f"^{missing} does not exist$"), open_source(missing):
        pass


def test_a_file_that_is_neither_folder_nor_zip_is_a_clear_error(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not an archive")
    with (
        pytest.raises(SourceError, match=f"^{notes} is neither a folder nor a zip archive$"),
        open_source(notes),
    ):
        pass


# --- zips ----------------------------------------------------------------------------------------


def test_a_zip_lists_members_without_extracting_anything(tmp_path: Path, private_tmp: Path) -> None:
    archive = write_zip(
        tmp_path / "in" / "reciter.zip",
        {
            "Reciter/": b"",
            "Reciter/114.mp3": b"last",
            "Reciter/001.mp3": AUDIO,
            "./Reciter/cover.jpg": b"\xff\xd8",
            "__MACOSX/Reciter/._001.mp3": b"junk",
        },
    )
    with open_source(archive) as source:
        files = source.files()
        assert [(f.relative, f.size) for f in files] == [
            ("Reciter/001.mp3", len(AUDIO)),
            ("Reciter/114.mp3", 4),
            ("Reciter/cover.jpg", 2),
        ]
        assert [s.relative for s in source.skipped] == ["__MACOSX/Reciter/._001.mp3"]
        assert files[0].sha256() == hashlib.sha256(AUDIO).hexdigest()
    assert files_under(private_tmp) == []
    assert files_under(tmp_path / "in") == [archive]


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_a_zip_member_materializes_to_a_private_temp_file_removed_afterwards(
    tmp_path: Path, private_tmp: Path, compression: int
) -> None:
    archive = write_zip(tmp_path / "r.zip", {"Al/018.mp3": AUDIO, "other.mp3": b"o"}, compression=compression)
    with open_source(archive) as source:
        member = source.files()[0]
        with member.materialize() as path:
            assert path.parent == private_tmp and path.suffix == ".mp3"
            assert path.read_bytes() == AUDIO
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert files_under(private_tmp) == [path]  # that member alone, not the archive
        assert not path.exists()
    assert files_under(private_tmp) == []


def test_materialize_honours_the_workdir(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "r.zip", {"001.mp3": AUDIO})
    (tmp_path / "work").mkdir()
    with open_source(archive, workdir=tmp_path / "work") as source, source.files()[0].materialize() as path:
        assert path.parent == tmp_path / "work"
    assert files_under(tmp_path / "work") == []


def test_zip_symlinks_and_encrypted_members_are_skipped_with_a_reason(tmp_path: Path) -> None:
    archive = tmp_path / "r.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        link = zipfile.ZipInfo("link.mp3")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("001.mp3", AUDIO)
        zf.writestr("secret.mp3", b"s")
    # Mark "secret.mp3" encrypted in the central directory, as a password-protected zip would.
    raw = bytearray(archive.read_bytes())
    entry = raw.rfind(b"PK\x01\x02")
    raw[entry + 8] |= 0x01
    archive.write_bytes(bytes(raw))
    with open_source(archive) as source:
        assert [f.relative for f in source.files()] == ["001.mp3"]
        reasons = {s.relative: s.reason for s in source.skipped}
    assert "symbolic link" in reasons["link.mp3"]
    assert "encrypted" in reasons["secret.mp3"]


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("../x.mp3", "'..' component"),
        ("Reciter/../../x.mp3", "'..' component"),
        ("/etc/x.mp3", "absolute path"),
        ("Reciter\\..\\x.mp3", "backslash"),
        ("C:/x.mp3", "drive letter"),
        ("Reciter/C:x.mp3", "drive letter"),
    ],
)
def test_a_zip_with_an_unsafe_member_is_refused_whole_and_nothing_is_extracted(
    tmp_path: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch, bad: str, why: str
) -> None:
    work = tmp_path / "cwd" / "deep"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)  # where a naive extractall would have written
    archive = write_zip(tmp_path / "in" / "evil.zip", {"001.mp3": AUDIO, bad: b"payload", "/second": b""})
    with pytest.raises(SourceError) as caught, open_source(archive):
        pytest.fail("an unsafe archive was opened")
    message = str(caught.value)
    assert str(archive) in message and repr(bad) in message and why in message
    assert "/second" not in message  # the first offending member is named
    assert files_under(tmp_path) == [archive]
    assert not Path("/etc/x.mp3").exists()


def test_member_name_rules_accept_ordinary_names() -> None:
    for name in ["001.mp3", "Reciter Name/Al-Kahf/001.mp3", "a..b.mp3", "x/..hidden.mp3", "v1:2.mp3"]:
        assert unsafe_member_reason(name) is None, name


def test_a_corrupt_zip_is_a_clear_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"this was never a zip archive" * 10)
    good = write_zip(tmp_path / "good.zip", {"001.mp3": AUDIO})
    truncated = tmp_path / "truncated.zip"
    whole = good.read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])
    renamed = tmp_path / "truncated.bin"  # no .zip suffix, but a zip's signature
    shutil.copy(truncated, renamed)
    for path in (garbage, truncated, renamed):
        with pytest.raises(SourceError, match=f"^{path} is not a valid zip archive"), open_source(path):
            pass


def test_a_damaged_member_is_an_error_naming_it_and_leaves_no_temp_file(
    tmp_path: Path, private_tmp: Path
) -> None:
    archive = write_zip(tmp_path / "r.zip", {"001.mp3": AUDIO}, compression=zipfile.ZIP_STORED)
    raw = bytearray(archive.read_bytes())
    raw[raw.find(AUDIO) + 1000] ^= 0xFF  # the central directory is intact; the CRC no longer matches
    archive.write_bytes(bytes(raw))
    with open_source(archive) as source:
        (member,) = source.files()
        with pytest.raises(SourceError, match=r"r\.zip: 001\.mp3.*CRC"):
            member.sha256()
        with pytest.raises(SourceError, match=r"r\.zip: 001\.mp3"), member.materialize():
            pytest.fail("a damaged member was materialized")
    assert files_under(private_tmp) == []


# --- permissions: root ignores them, so a child drops to nobody (65534) --------------------------


def _open_as_nobody(path: str, report: Connection) -> None:
    """Forked child: drop root, then try to open the source; send back what happened."""
    try:
        if os.geteuid() == 0:
            os.setgid(65534)
            os.setuid(65534)
        with open_source(Path(path)) as source:
            report.send(f"opened, {len(source.files())} files")
    except SourceError as exc:
        report.send(str(exc))
    except BaseException as exc:  # anything else must reach the test, not vanish with the child
        report.send(f"unexpected {type(exc).__name__}: {exc}")
    finally:
        report.close()


def _try_as_nobody(path: Path) -> str:
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_open_as_nobody, args=(str(path), sender))
    child.start()
    sender.close()
    try:
        assert receiver.poll(10), "the child did not report"
        return str(receiver.recv())
    finally:
        child.join(10)


def test_an_unreadable_folder_or_zip_is_a_clear_error() -> None:
    root = Path(tempfile.mkdtemp(prefix="quranbot-source-"))  # world-traversable, unlike pytest's tmp dirs
    try:
        root.chmod(0o755)
        folder = root / "Reciter"
        folder.mkdir()
        (folder / "001.mp3").write_bytes(AUDIO)
        archive = write_zip(root / "reciter.zip", {"001.mp3": AUDIO})
        readable = root / "readable"
        readable.mkdir()
        (readable / "001.mp3").write_bytes(AUDIO)
        readable.chmod(0o755)
        folder.chmod(0o700)
        archive.chmod(0o600)
        assert _try_as_nobody(readable) == "opened, 1 files"  # the child can read what it may
        assert _try_as_nobody(folder) == f"Cannot read the folder {folder}: Permission denied"
        assert _try_as_nobody(archive) == f"Cannot read {archive}: Permission denied"
    finally:
        shutil.rmtree(root)
