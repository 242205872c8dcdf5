"""The locales Discord accepts in a command's `name_localizations` / `description_localizations`.

Discord refuses a bulk overwrite of commands whose localisations name any other locale (HTTP 400,
50035 Invalid Form Body), which is how an `ar` key breaks a whole sync: there is no Arabic client
locale. The sandbox refuses the same, so a sync that passes here would pass on Discord.
"""

from __future__ import annotations

from typing import Any

#: Discord's locales (the API's "Locales" table; discord.py 2.7.1's `discord.Locale` lists the same).
DISCORD_LOCALES = frozenset(
    {
        "bg", "cs", "da", "de", "el", "en-GB", "en-US", "es-419", "es-ES", "fi", "fr", "hi", "hr", "hu",
        "id", "it", "ja", "ko", "lt", "nl", "no", "pl", "pt-BR", "ro", "ru", "sv-SE", "th", "tr", "uk",
        "vi", "zh-CN", "zh-TW",
    }
)  # fmt: skip
LOCALIZED = ("name_localizations", "description_localizations")


def bad_localizations(value: Any, path: str = "") -> list[str]:
    """`path.key` of every localisation keyed by a locale Discord does not have, in commands, their
    options and choices, at any depth."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key in LOCALIZED and isinstance(item, dict):
                found += [f"{where}.{locale}" for locale in item if locale not in DISCORD_LOCALES]
            else:
                found += bad_localizations(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += bad_localizations(item, f"{path}.{index}" if path else str(index))
    return found
