"""The server's own time zone, as an IANA name: the wizard's default answer."""

from __future__ import annotations

import contextlib
from pathlib import Path

from quranbot.config.rules import BadValue, timezone_name


def system_timezone(etc: Path = Path("/etc")) -> str:
    """/etc/timezone (Debian), else where /etc/localtime points, else UTC.

    `datetime.now().astimezone().tzinfo` only knows an abbreviation such as "CET", which is not a name
    zoneinfo accepts, so the files are read instead.
    """
    candidates = []
    with contextlib.suppress(OSError):
        candidates.append((etc / "timezone").read_text().strip())
    localtime = etc / "localtime"
    if localtime.is_symlink():
        target = str(localtime.resolve())
        if "/zoneinfo/" in target:
            candidates.append(target.split("/zoneinfo/", 1)[1])
    for candidate in candidates:
        try:
            return timezone_name(candidate)
        except BadValue:
            continue
    return "UTC"
