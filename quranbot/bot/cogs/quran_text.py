"""The Quran's text in Discord: `/ayah`, `/surah info` and `/search`, and what their buttons do.

Thin: it parses, checks the numbers against Tanzil's metadata, and answers with what
quranbot/bot/ayah_view.py draws. Everything is in memory (the text files are parsed at load), so each
interaction is answered at once, well within Discord's 3 s, with no defer. Bad input gets a private
sentence saying what is wrong. "Recite this" is `/verse` itself: RecitationCog.recite_from.
"""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands
from discord.ext import commands

from quranbot.bot.audit_trail import refuse
from quranbot.bot.ayah_view import (
    QUERY_LIMIT,
    QURAN_TEXT_COG,
    SEARCH_LIMIT,
    AyahPage,
    ReciteButton,
    SearchPage,
    ayah_message,
    query_length,
    search_message,
    surah_info_embed,
)
from quranbot.bot.cogs.recitation import RecitationCog
from quranbot.bot.command_errors import answer_command_error
from quranbot.bot.localizer import replies
from quranbot.bot.quran_refusals import RangeBeyondSurah, ReversedRange, refusal
from quranbot.quran.metadata import load_metadata
from quranbot.quran.search import AyahIndex, load_index, search_ayahs
from quranbot.quran.text import TRANSLATION_FILE, load_text

#: Per member: this many commands (or "Recite" presses) per this many seconds, as for /verse.
COOLDOWN_RATE, COOLDOWN_SECONDS = 5, 10.0


def _member_key(interaction: discord.Interaction) -> tuple[int | None, int]:
    return interaction.guild_id, interaction.user.id


def check_range(surah: int, first: int, last: int) -> None:
    """A ValueError a member can act on (said by `refusal`), unless `surah:first–last` is a range within
    one surah."""
    metadata = load_metadata()
    metadata.check_ayah(surah, first)  # "Surah number must be 1–114" / "Surah 1 (...) has 7 ayahs; ..."
    if last < first:
        raise ReversedRange(first, last)
    chapter = metadata.surah(surah)
    if last > chapter.ayah_count:
        raise RangeBeyondSurah(chapter, last)


class QuranTextCog(commands.Cog, name=QURAN_TEXT_COG):
    surah_group = app_commands.Group(name="surah", description="About a surah, from Tanzil's data.")

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        # discord.py's own per-key buckets (stale ones are dropped as it goes): "Recite" presses are not
        # app commands, so the cooldown decorator cannot reach them.
        self._recite_cooldown = commands.CooldownMapping.from_cooldown(
            COOLDOWN_RATE, COOLDOWN_SECONDS, _member_key
        )
        self._index_ready: asyncio.Future[AyahIndex] | None = None

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(AyahPage, SearchPage, ReciteButton)
        load_text()  # both files parsed now (30 ms), not inside the first /ayah's 3 s
        load_text(TRANSLATION_FILE)
        # The search index takes about half a second to build (once per process: it is cached): in a
        # thread, while the bot connects, so neither the start nor the first /search waits for it (a
        # search within that half second awaits it).
        self._index_ready = asyncio.ensure_future(asyncio.to_thread(load_index))

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(AyahPage, SearchPage, ReciteButton)
        if self._index_ready is not None:
            self._index_ready.cancel()  # a stop within that half second: no task left pending
            await asyncio.wait({self._index_ready})

    @property
    def recitation(self) -> RecitationCog | None:
        cog = self.bot.get_cog(RecitationCog.__cog_name__)
        return cog if isinstance(cog, RecitationCog) else None

    # -- what the commands and buttons show (QuranTextActions) ----------------------------------------
    async def show_ayahs(
        self, interaction: discord.Interaction, surah: int, first: int, last: int, page: int, *, edit: bool
    ) -> None:
        try:
            check_range(surah, first, last)
        except ValueError as exc:
            await interaction.response.send_message(refusal(exc, replies(interaction)), ephemeral=True)
            return
        embeds, view = ayah_message(surah, first, last, page, replies(interaction))
        if edit:
            await interaction.response.edit_message(embeds=embeds, view=view)
        else:
            await interaction.response.send_message(embeds=embeds, view=view)

    async def show_search(
        self, interaction: discord.Interaction, query: str, surah: int | None, page: int, *, edit: bool
    ) -> None:
        query = query.strip()
        text = replies(interaction)
        if query_length(query) > QUERY_LIMIT:  # Discord's client enforces it; a hand-made request may not
            await interaction.response.send_message(
                text.t("Search for {count} characters at most.", count=QUERY_LIMIT), ephemeral=True
            )
            return
        if self._index_ready is not None:
            await self._index_ready  # waits only in the first second after a start
        try:
            hits = search_ayahs(query, surah, limit=SEARCH_LIMIT + 1)
        except ValueError as exc:
            await interaction.response.send_message(refusal(exc, text), ephemeral=True)
            return
        if not hits:
            shown = discord.utils.escape_mentions(discord.utils.escape_markdown(query))
            if surah:
                found = text.t("No ayah matches '{query}' in surah {surah}.", query=shown, surah=surah)
            else:
                found = text.t("No ayah matches '{query}'.", query=shown)
            hint = text.t("Try other words of Pickthall's translation, or the Arabic without diacritics.")
            await interaction.response.send_message(f"{found} {hint}", ephemeral=True)
            return
        refs = [hit.ref for hit in hits[:SEARCH_LIMIT]]
        embeds, view = search_message(query, surah, refs, len(hits) > SEARCH_LIMIT, page, text)
        if edit:
            await interaction.response.edit_message(embeds=embeds, view=view)
        else:
            await interaction.response.send_message(embeds=embeds, view=view)

    async def recite(self, interaction: discord.Interaction, surah: int, ayah: int) -> None:
        """The "Recite this" button: /verse's cooldown, then /verse's own logic."""
        retry_after = self._recite_cooldown.update_rate_limit(interaction)
        if retry_after is not None:
            refuse(interaction, f"cooldown: {retry_after:.0f} s left")
            cooldown = app_commands.Cooldown(COOLDOWN_RATE, COOLDOWN_SECONDS)
            await answer_command_error(interaction, app_commands.CommandOnCooldown(cooldown, retry_after))
            return
        recitation = self.recitation
        if recitation is None:
            refuse(interaction, "the recitation is not running")
            await interaction.response.send_message(
                replies(interaction).t("The recitation is not running right now."), ephemeral=True
            )
            return
        await recitation.recite_from(interaction, surah, ayah)

    # -- commands ---------------------------------------------------------------------------------------
    @app_commands.command(name="ayah", description="The Arabic text and translation of an ayah or a range.")
    @app_commands.describe(
        surah="Surah number or name",
        ayah="The ayah (the first one, for a range)",
        to="The last ayah of a range in the same surah (optional)",
    )
    @app_commands.checks.cooldown(COOLDOWN_RATE, COOLDOWN_SECONDS, key=_member_key)
    async def ayah(
        self, interaction: discord.Interaction, surah: int, ayah: int, to: int | None = None
    ) -> None:
        await self.show_ayahs(interaction, surah, ayah, ayah if to is None else to, 0, edit=False)

    @surah_group.command(
        name="info", description="A surah's names, ayahs, revelation, juz, rukus and sajdas."
    )
    @app_commands.describe(surah="Surah number or name")
    @app_commands.checks.cooldown(COOLDOWN_RATE, COOLDOWN_SECONDS, key=_member_key)
    async def info(self, interaction: discord.Interaction, surah: int) -> None:
        try:
            load_metadata().surah(surah)
        except ValueError as exc:
            await interaction.response.send_message(refusal(exc, replies(interaction)), ephemeral=True)
            return
        await interaction.response.send_message(embed=surah_info_embed(surah, replies(interaction)))

    @app_commands.command(
        name="search", description="Find ayahs by words of the translation, or Arabic without diacritics."
    )
    @app_commands.describe(
        text="Words to find: English, or Arabic typed without diacritics",
        surah="Only in this surah (optional)",
    )
    @app_commands.checks.cooldown(COOLDOWN_RATE, COOLDOWN_SECONDS, key=_member_key)
    async def search(
        self,
        interaction: discord.Interaction,
        text: app_commands.Range[str, 1, QUERY_LIMIT],
        surah: int | None = None,
    ) -> None:
        await self.show_search(interaction, text, surah, 0, edit=False)

    # -- autocomplete: /play's own --------------------------------------------------------------------
    async def _surah_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        recitation = self.recitation
        return await recitation.surah_choices(interaction, current) if recitation is not None else []

    @ayah.autocomplete("surah")
    async def _ayah_surah(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        return await self._surah_choices(interaction, current)

    @info.autocomplete("surah")
    async def _info_surah(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        return await self._surah_choices(interaction, current)

    @search.autocomplete("surah")
    async def _search_surah(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        return await self._surah_choices(interaction, current)

    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await answer_command_error(interaction, error)
