"""Write config.toml atomically (0640, the config directory's group), with a short header.

The TOML is written here rather than with `tomli-w`: the schema is a few flat sections of strings,
integers, booleans and lists of strings or integers plus one array of tables, so a dozen lines do it without
another dependency, and the tests read every written file back with `tomllib`. Strings are emitted as
JSON strings, which are valid TOML basic strings (every value is validated before it gets here).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from quranbot.atomic_file import atomic_write_bytes
from quranbot.config.keys import GUILDS, to_document
from quranbot.config.schema import Config

CONFIG_MODE = 0o640
HEADER = """\
# QuranBot settings, written by `quranbot setup` and `quranbot config set` (they keep no other comments).
# Editing by hand is fine: `quranbot config show` checks the file. The keys are in the README.
# The bot token and the alerts webhook URL are not here: they are in the `token` and `alerts-webhook`
# files beside this one (mode 0600).
"""


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return json.dumps(list(value), ensure_ascii=False)
    if isinstance(value, list | tuple) and all(isinstance(i, int) and not isinstance(i, bool) for i in value):
        return json.dumps(list(value))
    raise TypeError(f"config.toml holds no {type(value).__name__} values")


def _pairs(table: dict[str, Any]) -> list[str]:
    return [f"{key} = {toml_value(value)}" for key, value in table.items()]


def render(config: Config) -> str:
    """config.toml's text: the top-level keys, then each section, then one [[guilds]] per server."""
    document = to_document(config)
    guilds = document.pop(GUILDS)
    blocks = [[HEADER.rstrip("\n")], _pairs({k: v for k, v in document.items() if not isinstance(v, dict)})]
    blocks += [[f"[{name}]", *_pairs(table)] for name, table in document.items() if isinstance(table, dict)]
    blocks += [[f"[[{GUILDS}]]", *_pairs(guild)] for guild in guilds]
    return "\n\n".join("\n".join(block) for block in blocks if block) + "\n"


def write_config(path: Path, config: Config) -> None:
    """Replace config.toml; the bot reads it at start, so a running bot keeps its settings until restarted."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    atomic_write_bytes(path, render(config).encode(), mode=CONFIG_MODE)
    share_group_of_directory(path)


def share_group_of_directory(path: Path) -> None:
    """Give the file its directory's group, so a bot running as that group can read a file root wrote
    (0640 would otherwise shut it out); nothing to do, or not allowed, leaves the group as it is."""
    group = path.parent.stat().st_gid
    if path.stat().st_gid != group:
        with contextlib.suppress(PermissionError):
            os.chown(path, -1, group)
