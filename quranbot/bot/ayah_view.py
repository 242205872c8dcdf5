"""What the Quran's text looks like in Discord: `/ayah` pages, `/search` results, `/surah info`, and
their buttons.

Rendering only; `QuranTextCog` (quranbot/bot/cogs/quran_text.py) parses, checks and answers. Every
ayah is shown whole, its Arabic and Pickthall's translation exactly as Tanzil's files have them
(`load_text`), and every message carries the credits. Discord refuses a message over its limits
(4,096 characters a description, 6,000 over all the embeds of a message, 10 embeds), so `paginate`
packs whole ayahs into messages within them, and a range that needs more is paged.

The buttons are `DynamicItem`s whose custom_id carries what they show (the range and page, the search
and page, the ayah to recite), so a message posted before a restart still answers after it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import discord
from discord.ext import commands

from quranbot.bot.audit_trail import reported
from quranbot.bot.localizer import replies
from quranbot.bot.quiz_view import DESCRIPTION_LIMIT, EMBED_LIMIT, TANZIL_DATA_CREDIT
from quranbot.i18n.catalog import N_, Language, Messages
from quranbot.i18n.catalog import english as english_messages
from quranbot.quran.metadata import AyahRef, Surah, load_metadata
from quranbot.quran.text import ARABIC_CREDIT, TRANSLATION_CREDIT, TRANSLATION_FILE, load_text

QURAN_TEXT_COG = "QuranTextCog"
AYAH_PREFIX = "quranbot:ayah:"
SEARCH_PREFIX = "quranbot:search:"
RECITE_PREFIX = "quranbot:recite:"
#: Discord's limit on the embeds of one message (the others are quiz_view's).
EMBEDS_PER_MESSAGE = 10
#: Between two ayahs in a description.
SEPARATOR = "\n\n"
CREDITS = (ARABIC_CREDIT, TRANSLATION_CREDIT)
COLOUR = discord.Colour.dark_green()
#: Search results a page shows at most (fewer when long ayahs fill the message first).
RESULTS_PER_PAGE = 5
#: Search results shown at most, best first.
SEARCH_LIMIT = 50
#: The longest search a page button can carry: the query rides in its custom_id after
#: `quranbot:search:<surah>:<page>:<prev|next>:` (28 characters at most), within Discord's 100 (counted
#: in UTF-16 units, the stricter way to count an emoji, see `query_length`).
QUERY_LIMIT = 60
Direction = Literal["prev", "next"]


# -- text ------------------------------------------------------------------------------------------------
def ayah_block(ref: AyahRef, label: str = "") -> str:
    """One ayah as a reader sees it: its reference (and sajda), the Arabic, then the translation in
    italics. The text between is Tanzil's, untouched: neither file holds a markdown character."""
    head = f"**{ref}**" + (f" · {label}" if label else "")
    sajda = load_metadata().sajda_at(ref.surah, ref.ayah)
    if sajda is not None:
        head += f" · ۩ sajda ({sajda.type})"
    return f"{head}\n{load_text()[ref]}\n*{load_text(TRANSLATION_FILE)[ref]}*"


@dataclass(frozen=True)
class Page:
    """The ayahs one message shows, and the description of each of its embeds."""

    refs: tuple[AyahRef, ...]
    descriptions: tuple[str, ...]


def paginate(blocks: Sequence[tuple[AyahRef, str]], overhead: int, per_page: int | None = None) -> list[Page]:
    """Whole blocks, in order, packed into messages: each description within 4,096 characters, each
    message within 6,000 (`overhead` is its title and footer, which count too) and 10 embeds.

    Greedy and deterministic, so page n drawn for a button after a restart holds the same ayahs as the
    page n the button was made for. The longest ayah (2:282, about 2,640 characters with its
    translation) fits an empty page; a block that does not is a bug, not something to cut.
    """
    room = EMBED_LIMIT - overhead
    pages: list[Page] = []
    refs: list[AyahRef] = []
    embeds: list[list[str]] = []
    lengths: list[int] = []
    used = 0
    for ref, block in blocks:
        size = len(block)
        full = per_page is not None and len(refs) >= per_page
        joined = size + len(SEPARATOR)
        if embeds and not full and lengths[-1] + joined <= DESCRIPTION_LIMIT and used + joined <= room:
            embeds[-1].append(block)
            lengths[-1] += joined
            used += joined
        elif embeds and not full and len(embeds) < EMBEDS_PER_MESSAGE and used + size <= room:
            embeds.append([block])
            lengths.append(size)
            used += size
        else:
            if size > min(DESCRIPTION_LIMIT, room):
                raise ValueError(f"{ref} ({size} characters) does not fit in one message")
            if embeds:
                pages.append(Page(tuple(refs), tuple(SEPARATOR.join(e) for e in embeds)))
            refs, embeds, lengths, used = [], [[block]], [size], size
        refs.append(ref)
    if embeds:
        pages.append(Page(tuple(refs), tuple(SEPARATOR.join(e) for e in embeds)))
    return pages


def _embeds(title: str, descriptions: Sequence[str], footer: str) -> list[discord.Embed]:
    """One embed per description: the title on the first, the footer (page, credits) on the last."""
    embeds = [discord.Embed(description=d, colour=COLOUR) for d in descriptions]
    embeds[0].title = title
    embeds[-1].set_footer(text=footer)
    return embeds


def _credits(text: Messages) -> str:
    return " · ".join(text.t(c) for c in CREDITS)


def _paged_footer(page: int, pages: int, rest: str, text: Messages) -> str:
    """Pages are packed with the English footer's width (the same ayahs on a page in every language,
    so a page button works for anyone); the catalog's footers are no longer than the English ones, and
    tests/test_languages_discord.py holds every page of 2:1–286 and of long searches, in every language,
    to Discord's limits."""
    return (
        text.t("Page {page} of {pages} · {rest}", page=page + 1, pages=pages, rest=rest)
        if pages > 1
        else rest
    )


# -- /ayah ---------------------------------------------------------------------------------------------
def range_label(surah: int, first: int, last: int) -> str:
    return f"{surah}:{first}" + (f"–{last}" if last != first else "")


def ayah_pages(surah: int, first: int, last: int, text: Messages) -> tuple[str, list[Page]]:
    """The title and the pages of `surah:first–last` (already checked by the caller)."""
    chapter = load_metadata().surah(surah)
    names = (
        (chapter.arabic_name, str(chapter))
        if text.language is Language.ARABIC
        else (str(chapter), chapter.arabic_name)
    )
    title = f"{names[0]} · {names[1]} · {text.ltr(range_label(surah, first, last))}"
    blocks = [(ref, ayah_block(ref)) for ref in (AyahRef(surah, a) for a in range(first, last + 1))]
    # The footer reserved for the longest page numbers there could be, so packing never depends on them
    # (nor on the language: the English title and footer, see _paged_footer).
    english = english_messages()
    widest = _paged_footer(len(blocks), len(blocks) + 1, _credits(english), english)
    english_title = f"{chapter} · {chapter.arabic_name} · {range_label(surah, first, last)}"
    return title, paginate(blocks, len(english_title) + len(widest))


def ayah_message(
    surah: int, first: int, last: int, page: int, text: Messages
) -> tuple[list[discord.Embed], discord.ui.View]:
    """Page `page` (clamped) of a range: its embeds, and its page and "Recite" buttons."""
    title, pages = ayah_pages(surah, first, last, text)
    page = min(max(0, page), len(pages) - 1)
    shown = pages[page]
    embeds = _embeds(title, shown.descriptions, _paged_footer(page, len(pages), _credits(text), text))
    view = discord.ui.View(timeout=None)
    if len(pages) > 1:
        for direction in ("prev", "next"):
            target, disabled = _turn(page, len(pages), direction)
            view.add_item(AyahPage(surah, first, last, target, direction, disabled=disabled, text=text))
    start = shown.refs[0]
    label = text.t("Recite this") if first == last else text.t("Recite from {ref}", ref=text.ltr(str(start)))
    view.add_item(ReciteButton(start.surah, start.ayah, label=label))
    return embeds, view


# -- /search -------------------------------------------------------------------------------------------
def search_message(
    query: str, surah: int | None, hits: Sequence[AyahRef], more: bool, page: int, text: Messages
) -> tuple[list[discord.Embed], discord.ui.View]:
    """A page of search results: each ayah whole (Arabic and translation, nothing trimmed), best
    first, at most RESULTS_PER_PAGE a page; `more` says there were more than the hits shown. Pages
    are packed in English (see _paged_footer); what is drawn is in `text`'s language."""
    metadata = load_metadata()
    shown_query = discord.utils.escape_markdown(query)
    english = english_messages()
    blocks = [(ref, ayah_block(ref, _where(metadata.surah(ref.surah)))) for ref in hits]
    total = len(hits)
    widest = _search_footer(total, total, total, more, total, total + 1, english)
    pages = paginate(
        blocks, len(_search_title(shown_query, surah, english)) + len(widest), per_page=RESULTS_PER_PAGE
    )
    page = min(max(0, page), len(pages) - 1)
    before = sum(len(p.refs) for p in pages[:page])
    footer = _search_footer(before + 1, before + len(pages[page].refs), total, more, page, len(pages), text)
    embeds = _embeds(_search_title(shown_query, surah, text), pages[page].descriptions, footer)
    view = discord.ui.View(timeout=None)
    if len(pages) > 1:
        for direction in ("prev", "next"):
            target, disabled = _turn(page, len(pages), direction)
            view.add_item(SearchPage(query, surah, target, direction, disabled=disabled, text=text))
    return embeds, view


def _search_title(query: str, surah: int | None, text: Messages) -> str:
    if surah is None:
        return text.t('Search: "{query}"', query=query)
    chapter = load_metadata().surah(surah)
    name = f"{surah}. {chapter.arabic_name}" if text.language is Language.ARABIC else str(chapter)
    return text.t('Search: "{query}" in {surah}', query=query, surah=name)


def query_length(query: str) -> int:
    """A query's length as a JavaScript client counts it (an emoji is 2), never less than Python's."""
    return len(query.encode("utf-16-le")) // 2


def _where(surah: Surah) -> str:
    return f"{surah.name} ({surah.english_name})"


def _search_footer(
    first: int, last: int, total: int, more: bool, page: int, pages: int, text: Messages
) -> str:
    results = text.ltr(f"{first}–{last}")
    if more:
        found = text.t(
            "Results {results} of the best {total}, best first · recite one from /ayah",
            results=results,
            total=total,
        )
    else:
        found = text.t(
            "Results {results} of {total}, best first · recite one from /ayah", results=results, total=total
        )
    return _paged_footer(page, pages, f"{found} · {_credits(text)}", text)


# -- /surah info ---------------------------------------------------------------------------------------
#: Tanzil's revelation types and sajda types, as members read them.
DATA_WORDS = {
    "Meccan": N_("Meccan"),
    "Medinan": N_("Medinan"),
    "recommended": N_("recommended"),
    "obligatory": N_("obligatory"),
}


def _word(value: str, text: Messages) -> str:
    return text.t(DATA_WORDS[value]) if value in DATA_WORDS else value


def surah_info_embed(number: int, text: Messages) -> discord.Embed:
    """A surah's facts, all from Tanzil's metadata: names, ayahs, revelation, juz, rukus, sajdas."""
    metadata = load_metadata()
    surah = metadata.surah(number)
    title = text.t(
        "Surah {number} · {name} · {arabic}", number=surah.number, name=surah.name, arabic=surah.arabic_name
    )
    embed = discord.Embed(title=title, colour=COLOUR)
    embed.description = text.t(
        "Read it with {command}", command=f"`/ayah surah:{surah.number} ayah:1 to:{surah.ayah_count}`"
    )
    embed.add_field(name=text.t("Name"), value=surah.name)
    embed.add_field(name=text.t("Arabic"), value=surah.arabic_name)
    embed.add_field(name=text.t("Meaning"), value=surah.english_name)
    embed.add_field(name=text.t("Ayahs"), value=str(surah.ayah_count))
    embed.add_field(
        name=text.t("Revealed"),
        value=text.t(
            "{type}, {order}",
            type=_word(surah.revelation_type, text),
            order=_ordinal(surah.revelation_order, text),
        ),
    )
    first, last = metadata.juz_of(number, 1), metadata.juz_of(number, surah.ayah_count)
    embed.add_field(name=text.t("Juz"), value=str(first) if first == last else text.ltr(f"{first}–{last}"))
    embed.add_field(name=text.t("Rukus"), value=str(surah.rukus))
    sajdas = [s for s in metadata.sajdas if s.ref.surah == number]
    embed.add_field(
        name=text.t("Sajda"),
        value="\n".join(f"{text.ltr(str(s.ref))} ({_word(s.type, text)})" for s in sajdas)
        if sajdas
        else text.t("None"),
    )
    embed.set_footer(text=text.t(TANZIL_DATA_CREDIT))
    return embed


def _ordinal(order: int, text: Messages) -> str:
    if text.language is not Language.ENGLISH:
        return text.t("number {order} in the order of revelation", order=order)
    suffix = "th" if 10 <= order % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(order % 10, "th")
    return f"{order}{suffix} in the order of revelation"


# -- buttons ---------------------------------------------------------------------------------------------
@runtime_checkable
class QuranTextActions(Protocol):
    """What these buttons ask of the cog behind them (found by name: buttons outlive views)."""

    async def show_ayahs(
        self, interaction: discord.Interaction, surah: int, first: int, last: int, page: int, *, edit: bool
    ) -> None: ...

    async def show_search(
        self, interaction: discord.Interaction, query: str, surah: int | None, page: int, *, edit: bool
    ) -> None: ...

    async def recite(self, interaction: discord.Interaction, surah: int, ayah: int) -> None: ...


async def _actions(interaction: discord.Interaction) -> QuranTextActions | None:
    client = interaction.client
    cog = client.get_cog(QURAN_TEXT_COG) if isinstance(client, commands.Bot) else None
    if isinstance(cog, QuranTextActions):
        return cog
    await interaction.response.send_message(
        replies(interaction).t("The Quran's text is not available right now."), ephemeral=True
    )
    return None


def _turn(page: int, pages: int, direction: str) -> tuple[int, bool]:
    """The page a Previous/Next button leads to, and whether it is disabled (at either end)."""
    if direction == "prev":
        return max(0, page - 1), page <= 0
    return min(pages - 1, page + 1), page >= pages - 1


def _page_button(
    custom_id: str, direction: str, disabled: bool, text: Messages | None = None
) -> discord.ui.Button[Any]:
    """`text`: the labels' language (a button rebuilt from its custom_id only dispatches: English)."""
    label = N_("Previous") if direction == "prev" else N_("Next")
    return discord.ui.Button(
        label=text.t(label) if text else label,
        emoji="◀️" if direction == "prev" else "▶️",
        custom_id=custom_id,
        style=discord.ButtonStyle.secondary,
        disabled=disabled,
    )


def _direction(text: str) -> Direction:
    return "prev" if text == "prev" else "next"


class AyahPage(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=AYAH_PREFIX
    + r"(?P<surah>[0-9]+):(?P<first>[0-9]+):(?P<last>[0-9]+):(?P<page>[0-9]+):(?P<dir>prev|next)",
):
    """A page button of `/ayah`: `quranbot:ayah:<surah>:<first>:<last>:<page it leads to>:<prev|next>`."""

    def __init__(
        self,
        surah: int,
        first: int,
        last: int,
        page: int,
        direction: Direction,
        *,
        disabled: bool = False,
        text: Messages | None = None,
    ) -> None:
        custom_id = f"{AYAH_PREFIX}{surah}:{first}:{last}:{page}:{direction}"
        super().__init__(_page_button(custom_id, direction, disabled, text))
        self.surah, self.first, self.last, self.page = surah, first, last, page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AyahPage:
        surah, first, last, page = (int(match[k]) for k in ("surah", "first", "last", "page"))
        return cls(surah, first, last, page, _direction(match["dir"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        actions = await _actions(interaction)
        if actions is not None:
            await actions.show_ayahs(interaction, self.surah, self.first, self.last, self.page, edit=True)


class SearchPage(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=SEARCH_PREFIX + r"(?P<surah>[0-9]+):(?P<page>[0-9]+):(?P<dir>prev|next):(?P<query>.+)",
):
    """A page button of `/search`; the query rides last in its custom_id (surah 0: the whole Quran), so
    the results are searched again on a click, after a restart too."""

    def __init__(
        self,
        query: str,
        surah: int | None,
        page: int,
        direction: Direction,
        *,
        disabled: bool = False,
        text: Messages | None = None,
    ) -> None:
        custom_id = f"{SEARCH_PREFIX}{surah or 0}:{page}:{direction}:{query}"
        super().__init__(_page_button(custom_id, direction, disabled, text))
        self.query, self.surah, self.page = query, surah, page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> SearchPage:
        surah = int(match["surah"]) or None
        return cls(match["query"], surah, int(match["page"]), _direction(match["dir"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        actions = await _actions(interaction)
        if actions is not None:
            await actions.show_search(interaction, self.query, self.surah, self.page, edit=True)


class ReciteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=RECITE_PREFIX + r"(?P<surah>[0-9]+):(?P<ayah>[0-9]+)",
):
    """The "Recite this" button: the channel plays from this ayah, as `/verse` would, for any member."""

    def __init__(self, surah: int, ayah: int, *, label: str = "Recite this") -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                emoji="🔊",
                custom_id=f"{RECITE_PREFIX}{surah}:{ayah}",
                style=discord.ButtonStyle.primary,
            )
        )
        self.surah, self.ayah = surah, ayah

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ReciteButton:
        return cls(int(match["surah"]), int(match["ayah"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        async with reported(interaction, "ayah.recite", ayah=f"{self.surah}:{self.ayah}"):
            actions = await _actions(interaction)
            if actions is not None:
                await actions.recite(interaction, self.surah, self.ayah)
