"""A value that must never be printed: the bot token, webhook URLs.

`Secret` hides its value from `str`, `repr` and f-strings, so a secret that slips into a log line or an
exception message shows as `Secret('********')`; code that truly needs it calls `.reveal()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Secret:
    _value: str = field(repr=False)

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return "********"

    def __repr__(self) -> str:
        return "Secret('********')"

    def __bool__(self) -> bool:
        return bool(self._value)
