"""`quranbot ayah S:A[-B]`: an ayah (or a range of one surah) in the terminal, as Tanzil has it.

The Arabic is printed verbatim in logical order, as the TUI does by default (terminals with bidi, such
as VTE, Konsole and mintty, show it right to left); the translation and both attributions follow.
"""

from __future__ import annotations

import re
from typing import Annotated

import typer
from rich.markup import escape

from quranbot.cli.output import fail, out
from quranbot.quran.metadata import AyahRef, load_metadata
from quranbot.quran.text import ARABIC_CREDIT, TRANSLATION_CREDIT, TRANSLATION_FILE, load_text

_RANGE = re.compile(r"\s*(\d{1,3})\s*:\s*(\d{1,3})\s*(?:-\s*(\d{1,3})\s*)?")


def parse_ayah_range(text: str) -> list[AyahRef]:
    """`2:255` or `2:255-257` as the ayahs it names; a ValueError that says why otherwise."""
    match = _RANGE.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not an ayah reference: write SURAH:AYAH or SURAH:FIRST-LAST (2:255-257)"
        )
    metadata = load_metadata()
    surah, first = int(match.group(1)), int(match.group(2))
    last = int(match.group(3) or first)
    metadata.check_ayah(surah, first)
    metadata.check_ayah(surah, last)
    if last < first:
        raise ValueError(f"{text}: the range ends ({last}) before it starts ({first})")
    return [AyahRef(surah, ayah) for ayah in range(first, last + 1)]


def ayah_command(
    reference: Annotated[str, typer.Argument(help="SURAH:AYAH, or SURAH:FIRST-LAST within one surah.")],
) -> None:
    """Print an ayah (or a range): the Uthmani text and Pickthall's translation, from the Tanzil files."""
    try:
        refs = parse_ayah_range(reference)
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    arabic, english = load_text(), load_text(TRANSLATION_FILE)
    surah = load_metadata().surah(refs[0].surah)
    out.print(
        f"[bold]{surah.number}. {escape(surah.name)}[/] ({escape(surah.english_name)})", highlight=False
    )
    for ref in refs:
        out.print(f"\n[bold cyan]{ref}[/]", highlight=False)
        # soft_wrap: the terminal wraps; Rich inserting line breaks would change the text
        out.print(escape(arabic[ref]), highlight=False, soft_wrap=True)
        out.print(escape(english[ref]), highlight=False, soft_wrap=True)
    out.print(f"\n[dim]{ARABIC_CREDIT} · {TRANSLATION_CREDIT}[/]", highlight=False)
