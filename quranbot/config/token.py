"""The bot token: its own file (one line, mode 0600) beside config.toml, its shape, and how it is shown.

A Discord bot token is three base64url parts joined by dots; the first decodes to the bot's user id,
which is also its application id (what the invite URL needs). Nothing here ever puts the token in a
message: errors describe the shape, and `masked()` shows four characters and the length.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

from quranbot.atomic_file import atomic_write_bytes
from quranbot.secret import Secret

#: `quranbot run` takes the token from here when no --token-file is given, before the token file.
TOKEN_ENV = "QURANBOT_TOKEN"
TOKEN_MODE = 0o600
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
BOT_ID = re.compile(r"[0-9]{17,20}")
WHERE = "copy it again from the Developer Portal: your application → Bot → Reset Token"


class TokenError(ValueError):
    """Why a token (or its file) cannot be used; the message never contains the token."""


def check_token(text: str) -> Secret:
    """The token if it is shaped like a bot token; a `TokenError` saying what is wrong otherwise."""
    value = text.strip()
    if not value:
        raise TokenError("no token given")
    if not TOKEN_SHAPE.fullmatch(value):
        raise TokenError(
            "that is not a bot token: a token is three parts joined by dots, made of letters, digits, "
            f"- and _ ({WHERE})"
        )
    token = Secret(value)
    application_id(token)
    return token


def application_id(token: Secret) -> int:
    """The bot's application id, from the token's first part."""
    head = token.reveal().split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if not BOT_ID.fullmatch(decoded):
        raise TokenError(
            "that is not a bot token: its first part does not decode to the bot's id (is it the client "
            f"secret or the public key?) ({WHERE})"
        )
    return int(decoded)


def masked(token: Secret) -> str:
    """`MTIz…(72 chars)`: enough to tell two tokens apart, far too little to use one."""
    value = token.reveal()
    return f"{value[:4]}…({len(value)} chars)"


def read_token(path: Path) -> Secret:
    """The token from a file: one line, surrounding whitespace ignored."""
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        raise TokenError(f"Token file {path} does not exist") from None
    except PermissionError:
        raise TokenError(f"Token file {path} is not readable by this user") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenError(f"Token file {path} cannot be read ({exc.__class__.__name__})") from None
    if not value:
        raise TokenError(f"Token file {path} is empty")
    return Secret(value)


def write_token(path: Path, token: Secret) -> None:
    """Replace the token file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    atomic_write_bytes(path, (token.reveal() + "\n").encode(), mode=TOKEN_MODE)
