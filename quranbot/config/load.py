"""Read config.toml: a missing file means the defaults; anything wrong is a `ConfigError` naming the file,
the key and the reason, never a traceback."""

from __future__ import annotations

import tomllib
from pathlib import Path

from quranbot.config.keys import from_document
from quranbot.config.schema import Config, ConfigError


def load_config(path: Path) -> Config:
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return Config()
    except PermissionError:
        raise ConfigError(
            "not readable by this user (run as root, or as the bot's user)", file=path
        ) from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", file=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot be read ({exc.strerror or exc})", file=path) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=path) from None
    try:
        return from_document(document)
    except ConfigError as exc:
        raise exc.in_file(path) from None
