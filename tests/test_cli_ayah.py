"""`quranbot ayah S:A[-B]`: an ayah in the terminal, byte for byte as the Tanzil files have it."""

from __future__ import annotations

from pathlib import Path

import pytest
from processes import run_quranbot

DATA = Path(__file__).resolve().parent.parent / "data"


def data_line(name: str, surah: int, ayah: int) -> str:
    prefix = f"{surah}|{ayah}|"
    line = next(x for x in (DATA / name).read_bytes().decode("utf-8").split("\n") if x.startswith(prefix))
    return line[len(prefix) :]


def test_the_longest_ayah_is_printed_whole_and_verbatim() -> None:
    result = run_quranbot("ayah", "2:282")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")  # not wrapped: each text is one line, exactly the file's
    assert data_line("quran-uthmani.txt", 2, 282) in lines
    assert data_line("en.pickthall.txt", 2, 282) in lines
    assert "2. Al-Baqara (The Cow)" in result.stdout
    assert "Quran text: Tanzil Project, tanzil.net · Translation: Pickthall, via Tanzil" in result.stdout


def test_a_range_prints_each_ayah_in_order() -> None:
    result = run_quranbot("ayah", "112:1-4")
    assert result.returncode == 0, result.stderr
    positions = [result.stdout.index(data_line("quran-uthmani.txt", 112, n)) for n in range(1, 5)]
    assert positions == sorted(positions)
    assert [line for line in result.stdout.split("\n") if line.startswith("112:")] == [
        "112:1",
        "112:2",
        "112:3",
        "112:4",
    ]


@pytest.mark.parametrize(
    ("reference", "reason"),
    [
        ("1:8", "Surah 1 (Al-Faatiha) has 7 ayahs; 8 is out of range 1–7"),
        ("0:1", "Surah number must be 1–114, got 0"),
        ("2:5-3", "the range ends (3) before it starts (5)"),
        ("2.255", "is not an ayah reference: write SURAH:AYAH"),
    ],
)
def test_a_bad_reference_says_why(reference: str, reason: str) -> None:
    result = run_quranbot("ayah", reference)
    assert result.returncode == 2
    assert reason in " ".join(result.stderr.split())
