"""Who is credited with a surah: the members who heard every frame of it, from the first to the last.

A `SurahAudience` record holds them while the surah plays (it is saved with the position, so a restart
mid-surah keeps them). The bot calls these at the surah's first frame, when a member stops listening,
when playback jumps, at the last frame, and when playback resumes after a restart.
"""

from __future__ import annotations

from collections.abc import Set

from quranbot.store.records import SurahAudience


def begin(audience: SurahAudience, surah: int, reciter: str, present: Set[int]) -> None:
    """The surah's first frame plays: everyone listening now may hear it all."""
    audience.surah, audience.reciter, audience.members = surah, reciter, sorted(present)


def interrupt(audience: SurahAudience) -> None:
    """Playback jumped into the middle of a surah (seek, skip, reciter change): nobody can hear it all."""
    audience.surah, audience.reciter, audience.members = None, None, []


def left(audience: SurahAudience, user_id: int) -> None:
    """A member stopped listening (left, deafened): they missed part of the surah."""
    if user_id in audience.members:
        audience.members = [m for m in audience.members if m != user_id]


def finished(audience: SurahAudience, surah: int, reciter: str, present: Set[int]) -> list[int]:
    """The surah's last frame played: who heard it all (sorted); the audience is cleared for the next."""
    credited: list[int] = []
    if audience.surah == surah and audience.reciter == reciter:
        credited = [m for m in audience.members if m in present]
    interrupt(audience)
    return credited


def resumed(audience: SurahAudience, surah: int, reciter: str, present: Set[int]) -> None:
    """Playback resumes mid-surah after a restart: the saved audience still counts for those present,
    if it is the same surah on the same reciter; anything else means it cannot."""
    if audience.surah == surah and audience.reciter == reciter:
        audience.members = [m for m in audience.members if m in present]
    else:
        interrupt(audience)
