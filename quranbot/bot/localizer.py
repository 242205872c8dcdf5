"""Which language the bot speaks to whom: a member's own choice, else the server's, else Discord's.

Replies to one member (answers, refusals, `/stats`) follow `for_interaction`: the language the member
chose with `/language` (kept in the store), else the server's (`/setup language`, or config.toml's
`guilds[].language`), else the member's Discord client locale, else English. Messages many members
read (the panel, quiz questions and reveals, leaderboards posted in a channel, the daily verse,
achievement notices) follow `for_guild`: the server's language, else the server's preferred locale,
else English. Discord has no Arabic client locale (discord.py 2.7.1's `discord.Locale` lists none), so
Arabic reaches a member only by a choice, theirs or the server's.
"""

from __future__ import annotations

import discord

from quranbot.i18n.catalog import DEFAULT_LANGUAGE, Catalogs, Language, Messages, language_named
from quranbot.store.state import StateStore


class Localizer:
    def __init__(self, catalogs: Catalogs, store: StateStore) -> None:
        self.catalogs = catalogs
        self.store = store

    def guild_language(self, guild: discord.Guild | int | None) -> Language:
        """The server's setting, else its preferred locale (Discord's community setting), else English."""
        if guild is None:
            return DEFAULT_LANGUAGE
        guild_id = guild if isinstance(guild, int) else guild.id
        chosen = language_named(self.store.settings(guild_id).language)
        if chosen is not None:
            return chosen
        preferred = None if isinstance(guild, int) else language_named(guild.preferred_locale.value)
        return preferred or DEFAULT_LANGUAGE

    def member_language(self, interaction: discord.Interaction) -> Language:
        """The member's `/language`, else the server's setting, else the client's locale, else English."""
        chosen = language_named(self.store.member_language(interaction.user.id))
        if chosen is not None:
            return chosen
        if interaction.guild_id is not None:
            guild_setting = language_named(self.store.settings(interaction.guild_id).language)
            if guild_setting is not None:
                return guild_setting
        return language_named(interaction.locale.value) or DEFAULT_LANGUAGE

    def for_interaction(self, interaction: discord.Interaction) -> Messages:
        return self.catalogs.messages(self.member_language(interaction))

    def for_guild(self, guild: discord.Guild | int | None) -> Messages:
        return self.catalogs.messages(self.guild_language(guild))

    def english(self) -> Messages:
        """For what has no member or server to follow (the bot's presence is one line for every server)."""
        return self.catalogs.messages(DEFAULT_LANGUAGE)


def localizer_of(client: discord.Client) -> Localizer:
    """The bot's Localizer, for code that holds only an interaction (a button outliving its view)."""
    found = getattr(client, "localizer", None)
    if not isinstance(found, Localizer):
        raise TypeError(f"{type(client).__name__} has no Localizer")
    return found


def replies(interaction: discord.Interaction) -> Messages:
    """The messages to answer this member in (see `Localizer.member_language`)."""
    return localizer_of(interaction.client).for_interaction(interaction)
