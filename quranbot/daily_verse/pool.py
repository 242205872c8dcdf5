"""Which ayah a guild's daily verse is next: one not posted there before, until the pool is exhausted.

The pool is every ayah (6,236) or the admin's list of references from config.toml. Ayahs are kept as
their absolute index in the Quran (0 = 1:1, 6235 = 114:6: `QuranMetadata.ayah_index`), which is what the
store remembers per guild. When every ayah of the pool has been posted the round starts again, leaving
out the one posted last so no ayah comes twice in a row.
"""

from __future__ import annotations

import random
import re
from collections.abc import Collection, Iterable, Sequence

from quranbot.quran.metadata import AyahRef, load_metadata

_REFERENCE = re.compile(r"\s*(\d{1,3})\s*:\s*(\d{1,3})\s*")


def parse_reference(text: str) -> AyahRef:
    """`"2:255"` as an AyahRef; a ValueError that says why for anything that is not an ayah."""
    match = _REFERENCE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not an ayah reference (SURAH:AYAH, such as 2:255)")
    return load_metadata().check_ayah(int(match.group(1)), int(match.group(2)))


def parse_pool(references: Iterable[str]) -> tuple[int, ...]:
    """The admin's list as ayah indices, in the order given and without repeats; empty means no list."""
    metadata = load_metadata()
    indices = (metadata.ayah_index(ref.surah, ref.ayah) for ref in map(parse_reference, references))
    return tuple(dict.fromkeys(indices))


def whole_quran() -> range:
    return range(load_metadata().total_ayahs)


def next_verse(pool: Sequence[int], posted: Collection[int], rng: random.Random) -> tuple[int, bool]:
    """(the ayah index to post, whether this starts a new round of the pool).

    `posted` is what this round has posted, oldest first when it is a sequence; a new round leaves out
    the ayah posted last (when the pool holds more than one)."""
    if not pool:
        raise ValueError("the daily verse pool is empty")
    done = set(posted)
    left = [index for index in pool if index not in done]
    if left:
        return rng.choice(left), False
    last = posted[-1] if isinstance(posted, Sequence) and posted else None
    fresh = [index for index in pool if index != last] or list(pool)
    return rng.choice(fresh), True
