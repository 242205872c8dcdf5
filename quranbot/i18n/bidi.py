"""Unicode isolates, so Latin names, numbers and references keep their order inside Arabic text.

Discord lays each line out with the Unicode bidirectional algorithm. In a right-to-left sentence a run
such as `2:255`, `03:12 / 05:00` or `#3 of 10` is neutral or weak, and its parts are reordered around
the Arabic (`05:00 / 03:12`). An isolate (UAX #9, §2.4) makes the run one neutral unit to the text
outside it, and lays it out by its own rules inside: FSI picks the direction from the run's first
strong letter (so an English name reads left to right, an Arabic one right to left), LRI forces left
to right (references, clocks, counts: what has no letter to go by). Isolates are invisible, and are
added only to right-to-left text: English messages are left exactly as they were.
"""

from __future__ import annotations

#: FIRST STRONG ISOLATE, LEFT-TO-RIGHT ISOLATE, POP DIRECTIONAL ISOLATE, and RIGHT-TO-LEFT ISOLATE (for a
#: run that is right to left whatever its first letter: an Arabic list of isolated items).
FSI, LRI, PDI, RLI = "\u2068", "\u2066", "\u2069", "\u2067"
ISOLATES = (FSI, LRI, RLI)


def isolated(value: str) -> str:
    """`value` in an isolate that takes its direction from its first letter (a no-op if isolated)."""
    return value if value.startswith(ISOLATES) or not value else f"{FSI}{value}{PDI}"


def ltr(value: str) -> str:
    """`value` (a reference, a clock, a count) laid out left to right wherever it is placed."""
    return value if value.startswith(ISOLATES) or not value else f"{LRI}{value}{PDI}"


class Verbatim(str):
    """A placeholder value put in a message untouched: a URL, which an invisible mark after it would
    break (Discord's link detection takes it for part of the address)."""

    __slots__ = ()
