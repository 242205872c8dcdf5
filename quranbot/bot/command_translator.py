"""Slash command names and descriptions through discord.py's `app_commands.Translator`.

discord.py asks the translator for every Discord locale when it syncs the commands, and sends what it
returns as `name_localizations` / `description_localizations`. Discord accepts only the keys of its
own locale list, and that list (`discord.Locale`, 2.7.1) has no Arabic: a localisation keyed `ar` makes
the whole sync fail. So this answers only for a Discord locale that has a catalog of ours besides
English, and None for every other: today that is none, so every member sees the English names and
descriptions, and Arabic reaches members through replies instead (quranbot/bot/localizer.py). Names
are never translated: they are what members type and what the docs name.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from quranbot.i18n.catalog import DEFAULT_LANGUAGE, Catalogs, Language, language_named


def catalog_language(locale: discord.Locale) -> Language | None:
    """Our language for one of Discord's locales, or None (English: the source text is already it)."""
    language = language_named(locale.value)
    return None if language is None or language is DEFAULT_LANGUAGE else language


class CommandTranslator(app_commands.Translator):
    def __init__(self, catalogs: Catalogs) -> None:
        self.catalogs = catalogs

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContext[Any, Any],
    ) -> str | None:
        language = catalog_language(locale)
        if language is None or context.location in NAMES:
            return None
        translated = self.catalogs.translate(language, string.message)
        return translated if translated != string.message else None


NAMES = frozenset(
    {
        app_commands.TranslationContextLocation.command_name,
        app_commands.TranslationContextLocation.group_name,
        app_commands.TranslationContextLocation.parameter_name,
    }
)
