"""How the Arabic surah names reach the terminal: in logical order, on their own, right-aligned.

What Textual does with "الفاتحة": nothing bidi. It keeps and paints text in logical (memory) order,
one cell per Arabic letter (Rich's `cell_len`; the names in quran-data.xml are letters and spaces only,
no tashkeel, so that count is exact), and writes those cells left to right. Whether a person then reads
the name right-to-left is up to the terminal, and terminals disagree:

- VTE (GNOME Terminal, Tilix, xfce4-terminal, ...: implicit BiDi on by default since VTE 0.58), Konsole,
  mlterm, mintty, PuTTY and macOS Terminal run the Unicode bidi algorithm on each row and shape the
  letters: logical order shows correctly, joined.
- xterm, kitty, Alacritty, Windows Terminal, st, and iTerm2/WezTerm by default paint cells as they
  come: logical order reads backwards there (and unjoined, whatever the order).

Decision: send logical order, the default. It is what the terminal BiDi proposal VTE implements
(terminal-wg.pages.freedesktop.org/bidi) asks of ordinary applications; sending the name pre-reversed
would show it backwards in every bidi-aware terminal and make a copied name come out reversed. The
name is placed so that a bidi-aware terminal moves nothing but the name: it stands at the right of
its column, with only spaces and box lines between it and the English around it, and every row
starts with English (so the row's direction is left-to-right, also where terminals guess it). Those
neutrals between a left-to-right run and the Arabic resolve to the row's direction, and no digit
follows the Arabic before English does (a number after Arabic letters would join the right-to-left run,
rule W2), so the terminal reverses the name within its own cells. Its width in cells is the same in either
order, so the layout never shifts.

For terminals that paint cells as they come, `a` in the TUI switches to visual order: the same
letters, reversed (grapheme clusters kept whole), so they read right-to-left, though unjoined. No
bidi control characters (RLI/PDI) are sent: many terminals draw them as boxes or give them a cell.
"""

from __future__ import annotations

import unicodedata
from enum import Enum


class ArabicOrder(Enum):
    LOGICAL = "logical"  # for terminals that apply bidi (the default)
    VISUAL = "visual"  # reversed, for terminals that paint cells left to right

    def toggled(self) -> ArabicOrder:
        return ArabicOrder.VISUAL if self is ArabicOrder.LOGICAL else ArabicOrder.LOGICAL

    def describe(self) -> str:
        if self is ArabicOrder.LOGICAL:
            return "Arabic in logical order (for terminals that apply bidi)"
        return "Arabic in visual order (for terminals that do not apply bidi)"


def graphemes(text: str) -> list[str]:
    """Base characters with the combining marks that follow them (enough for Arabic tashkeel)."""
    clusters: list[str] = []
    for char in text:
        if clusters and unicodedata.combining(char):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def arabic_for_display(text: str, order: ArabicOrder) -> str:
    if order is ArabicOrder.LOGICAL:
        return text
    return "".join(reversed(graphemes(text)))
