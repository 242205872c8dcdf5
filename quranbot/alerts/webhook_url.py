"""The alerts webhook's URL: a secret like the bot token (anyone holding it can post as the webhook), so
it lives in its own 0600 file beside the token, is checked for its shape without ever being printed, and
is shown masked (`https://discord.com/api/webhooks/123…/AbCd…(68 chars)`).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from quranbot.atomic_file import atomic_write_bytes
from quranbot.config.token import TOKEN_MODE
from quranbot.secret import Secret

#: The hosts Discord gives webhook URLs on (the sandbox answers for the same names).
HOSTS = ("discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com")
PATH = re.compile(r"/api(?:/v\d+)?/webhooks/(?P<id>[0-9]{17,20})/(?P<token>[A-Za-z0-9_.-]{60,100})")
WHERE = "copy it from Discord: Server Settings → Integrations → Webhooks → Copy Webhook URL"


class WebhookUrlError(ValueError):
    """Why a webhook URL cannot be used; the message never contains its token part."""


def check_webhook_url(text: str) -> Secret:
    """The URL if it is a Discord webhook's execute URL; a `WebhookUrlError` saying what is wrong."""
    value = text.strip()
    if not value:
        raise WebhookUrlError("no webhook URL given")
    parts = urlsplit(value)
    if parts.scheme != "https":
        raise WebhookUrlError(f"a webhook URL starts with https:// ({WHERE})")
    if (parts.hostname or "") not in HOSTS or parts.port is not None:
        raise WebhookUrlError(
            f"a webhook URL is on discord.com, not {parts.hostname or 'no host'!r} ({WHERE})"
        )
    if parts.query or parts.fragment or not PATH.fullmatch(parts.path):
        raise WebhookUrlError(
            "that is not a webhook URL: it looks like https://discord.com/api/webhooks/ID/TOKEN, "
            f"ID a number of 17–20 digits and TOKEN 60 or more letters, digits, - and _ ({WHERE})"
        )
    return Secret(value)


def webhook_id(url: Secret) -> int:
    match = PATH.fullmatch(urlsplit(url.reveal()).path)
    assert match is not None, "check_webhook_url() first"
    return int(match["id"])


def webhook_token(url: Secret) -> Secret:
    """The URL's token part: a secret of its own (a log line may hold it without the rest of the URL)."""
    match = PATH.fullmatch(urlsplit(url.reveal()).path)
    assert match is not None, "check_webhook_url() first"
    return Secret(match["token"])


def webhook_secrets(url: Secret) -> tuple[Secret, Secret]:
    """What a redactor must know to keep the URL out of every log line and alert."""
    return url, webhook_token(url)


def masked_webhook(url: Secret) -> str:
    """The host and the webhook's id (not secret), and four characters and the length of its token."""
    token = webhook_token(url).reveal()
    host = urlsplit(url.reveal()).hostname
    return f"https://{host}/api/webhooks/{webhook_id(url)}/{token[:4]}…({len(token)} chars)"


def read_webhook_url(path: Path) -> Secret | None:
    """The saved URL; None when there is no file (alerts then go to a channel, or nowhere)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except PermissionError:
        raise WebhookUrlError(f"Webhook URL file {path} is not readable by this user") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WebhookUrlError(f"Webhook URL file {path} cannot be read ({exc.__class__.__name__})") from None
    try:
        return check_webhook_url(text)
    except WebhookUrlError as exc:
        raise WebhookUrlError(f"Webhook URL file {path}: {exc}") from None


def write_webhook_url(path: Path, url: Secret) -> None:
    """Replace the file atomically, readable by its owner only (as the token's)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    atomic_write_bytes(path, (url.reveal() + "\n").encode(), mode=TOKEN_MODE)
