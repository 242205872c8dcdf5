"""What the control panel looks like: its embed, and the buttons and menus members steer with.

Rendering only. Every control hands its interaction to `PanelActions` (the panel cog), so one class
serves both the view registered at start, which answers presses on any panel message (after a
restart too, since the custom_ids are fixed), and the view each edit draws with the current labels.

Picking a surah takes two steps, because a select menu holds at most 25 options and there are 114
surahs: the panel's range menu (surahs 1–25, 26–50, ...) answers the member, and only that member,
with an ephemeral menu of that range's surahs. The panel itself never changes for one member's
browsing, so two members choosing at once cannot trip over each other, and the panel's edits stay
for what everyone sees.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import discord

from quranbot.audio.library import Reciter
from quranbot.audio.player import NowPlaying, Player, PlayerState
from quranbot.bot.audit_trail import component_name, failed, refuse, report_action
from quranbot.bot.cogs.recitation import progress_bar
from quranbot.bot.command_errors import SOMETHING_WENT_WRONG, tell_privately
from quranbot.bot.guild_player import LastAction
from quranbot.bot.localizer import replies
from quranbot.clock import clock
from quranbot.i18n.catalog import N_, Language, Messages, Phrase
from quranbot.i18n.surah_names import SurahLabel
from quranbot.quran.metadata import AyahRef, load_metadata
from quranbot.quran.text import ARABIC_CREDIT, TRANSLATION_CREDIT, TRANSLATION_FILE, load_text

log = logging.getLogger(__name__)

PREFIX = "quranbot:panel:"
PREVIOUS, PAUSE, NEXT = f"{PREFIX}previous", f"{PREFIX}pause", f"{PREFIX}next"
LOOP, SHUFFLE, SEARCH = f"{PREFIX}loop", f"{PREFIX}shuffle", f"{PREFIX}search"
RANGE, SURAH, RECITER = f"{PREFIX}range", f"{PREFIX}surah", f"{PREFIX}reciter"
#: The search modal's text input (the modal's own custom_id is unique per opening, see SearchModal).
QUERY = "query"

#: Discord's limit on the options of one select menu.
MAX_OPTIONS = 25
SURAH_COUNT = 114
#: Surah ranges for the two-step surah picker: (1, 25), (26, 50), ..., (101, 114).
RANGES: tuple[tuple[int, int], ...] = tuple(
    (first, min(first + MAX_OPTIONS - 1, SURAH_COUNT)) for first in range(1, SURAH_COUNT + 1, MAX_OPTIONS)
)
TANZIL_CREDIT = N_("Surah names: Tanzil Project (tanzil.net), CC BY 3.0")
SAMPLE_NOTE = N_("sample tones, not a recitation")

COLOURS = {
    PlayerState.PLAYING: discord.Colour.green(),
    PlayerState.PAUSED: discord.Colour.orange(),
    PlayerState.IDLE: discord.Colour.light_grey(),
}
TITLES = {
    PlayerState.PLAYING: N_("Now reciting"),
    PlayerState.PAUSED: N_("Paused"),
    PlayerState.IDLE: N_("Ready"),
}


@dataclass(frozen=True)
class PanelState:
    """Everything the panel shows, read at the moment it is drawn (so an edit always shows the latest)."""

    #: None: nothing recites in this guild (no voice channel set up).
    now: NowPlaying | None
    listeners: int = 0
    last_action: LastAction | None = None
    #: The library's reciters, for the reciter menu and the current reciter's name.
    reciters: tuple[Reciter, ...] = ()

    def reciter(self) -> Reciter | None:
        if self.now is None:
            return None
        if self.now.reciter is None:  # not chosen yet: the player starts with the library's first
            return self.reciters[0] if self.reciters else None
        return next((r for r in self.reciters if r.slug == self.now.reciter), None)


class PanelActions(Protocol):
    """What the panel's controls ask of the cog behind them."""

    async def check(self, interaction: discord.Interaction) -> bool:
        """May this member steer? If not, the member has been told why (ephemerally)."""
        ...

    def now_playing(self, guild_id: int | None) -> NowPlaying | None: ...

    async def steer(
        self,
        interaction: discord.Interaction,
        what: Phrase,
        command: Callable[[Player], None],
        *,
        confirm: bool = False,
    ) -> None:
        """Run `command` on the guild's player on the member's behalf, then answer the interaction."""
        ...

    async def search(self, interaction: discord.Interaction, query: str) -> None: ...


# -- the embed ------------------------------------------------------------------------------------------
def on_off(value: bool, text: Messages) -> str:
    return text.t("On") if value else text.t("Off")


def _headline(number: int, ayah: int | None, text: Messages) -> str:
    """The surah's names, the reader's language first; both come from Tanzil's data."""
    surah = load_metadata().surah(number)
    where = " · " + text.t("ayah {ayah}", ayah=ayah) if ayah else ""
    if text.language is Language.ARABIC:
        # "18." is not isolated: in a right-to-left line its period falls after the number as read
        return f"**{surah.number}. {surah.arabic_name}**{where}\n{surah.name} — {surah.english_name}"
    return f"**{surah.number}. {surah.name}** — {surah.english_name}{where}\n{surah.arabic_name}"


def last_action_text(action: LastAction, text: Messages) -> str:
    """What was done, in the reader's language: a member's command is a Phrase; the terminal's is English
    text, translated when the catalog has it ("Paused"), else shown as it is."""
    what = action.what.said_in(text) if isinstance(action.what, Phrase) else text.t(action.what)
    who = discord.utils.escape_markdown(action.who)
    return text.t("{what} — by {who}", what=what, who=who)


def panel_embed(state: PanelState, text: Messages) -> discord.Embed:
    now = state.now
    if now is None:
        embed = discord.Embed(
            title=text.t("Not reciting here yet"),
            description=text.t("An admin can choose the voice channel with `/setup`."),
            colour=discord.Colour.light_grey(),
        )
        embed.set_footer(text=text.t(TANZIL_CREDIT))
        return embed
    description = _headline(now.surah, now.ayah, text)
    if now.ayah:  # a per-ayah reciter: the ayah being recited, as Tanzil has it
        ref = AyahRef(now.surah, now.ayah)
        description += f"\n\n{load_text()[ref]}\n{load_text(TRANSLATION_FILE)[ref]}"
    embed = discord.Embed(title=text.t(TITLES[now.state]), description=description, colour=COLOURS[now.state])
    reciter = state.reciter()
    if reciter is not None:
        names = (
            (reciter.arabic_name, reciter.name)
            if text.language is Language.ARABIC
            else (reciter.name, reciter.arabic_name)
        )
        name = " · ".join(n for n in names if n)
        note = f"\n*{text.t(SAMPLE_NOTE)}*" if reciter.sample else ""
        embed.add_field(name=text.t("Reciter"), value=name + note, inline=False)
    else:
        embed.add_field(
            name=text.t("Reciter"),
            value=now.reciter_name or now.reciter or text.t("none chosen"),
            inline=False,
        )
    bar = progress_bar(now.elapsed_seconds, now.total_seconds)
    where = text.ltr(f"{clock(now.elapsed_seconds)} / {clock(now.total_seconds)}")
    embed.add_field(name=text.t("Progress"), value=f"{bar}\n`{where}`", inline=False)
    embed.add_field(name=text.t("Loop"), value=on_off(now.loop, text))
    embed.add_field(name=text.t("Shuffle"), value=on_off(now.shuffle, text))
    embed.add_field(name=text.t("Listeners"), value=str(state.listeners))
    if state.last_action is not None:
        embed.add_field(
            name=text.t("Last action"), value=last_action_text(state.last_action, text)[:1024], inline=False
        )
    credits = [TANZIL_CREDIT, ARABIC_CREDIT, TRANSLATION_CREDIT] if now.ayah else [TANZIL_CREDIT]
    embed.set_footer(text=" · ".join(text.t(c) for c in credits))
    return embed


# -- options ---------------------------------------------------------------------------------------------
def range_options(text: Messages) -> list[discord.SelectOption]:
    return list(_range_options(text))


@functools.cache
def _range_options(text: Messages) -> tuple[discord.SelectOption, ...]:
    metadata = load_metadata()
    arabic = text.language is Language.ARABIC
    options = []
    for first, last in RANGES:
        start, end = metadata.juz_of(first, 1), metadata.juz_of(last, metadata.ayah_count(last))
        juz = (
            text.t("juz {juz}", juz=start)
            if start == end
            else text.t("juz {juz}", juz=text.ltr(f"{start}–{end}"))
        )
        names = [metadata.surah(n).arabic_name if arabic else metadata.surah(n).name for n in (first, last)]
        options.append(
            discord.SelectOption(
                label=text.t("Surahs {range}", range=text.ltr(f"{first}–{last}")),
                value=f"{first}-{last}",
                description=f"{names[0]} … {names[1]} · {juz}"[:100],
            )
        )
    return tuple(options)


def surah_options(first: int, last: int, text: Messages) -> list[discord.SelectOption]:
    metadata = load_metadata()
    arabic = text.language is Language.ARABIC
    return [
        discord.SelectOption(
            label=f"{s.number}. {s.arabic_name if arabic else s.name}"[:100],
            value=str(s.number),
            description=(f"{s.name} · {s.english_name}" if arabic else f"{s.english_name} · {s.arabic_name}")[
                :100
            ],
        )
        for s in (metadata.surah(n) for n in range(first, last + 1))
    ]


def reciter_options(state: PanelState, text: Messages) -> list[discord.SelectOption]:
    playing = state.reciter()
    current = playing.slug if playing else None
    reciters = list(state.reciters)
    # The current reciter always has a place, even in a library of more than 25.
    shown = [r for r in reciters if r.slug == current][:1]
    shown += [r for r in reciters if r.slug != current][: MAX_OPTIONS - len(shown)]
    shown.sort(key=reciters.index)
    return [
        discord.SelectOption(
            label=r.name[:100],
            value=r.slug,
            description=_capitalized(text.t(SAMPLE_NOTE)) if r.sample else (r.arabic_name or None),
            default=r.slug == current,
        )
        for r in shown
    ]


def _capitalized(value: str) -> str:
    return value[:1].upper() + value[1:]


def parse_range(value: str) -> tuple[int, int] | None:
    first, _, last = value.partition("-")
    if not (first.isdecimal() and last.isdecimal()):
        return None
    bounds = (int(first), int(last))
    return bounds if bounds in RANGES else None


# -- the views ------------------------------------------------------------------------------------------
async def report_failure(interaction: discord.Interaction, error: Exception, what: str) -> None:
    """A control's bug: logged with its traceback, and the member is told something went wrong."""
    log.error("Panel control %s failed", what, exc_info=error)
    failed(interaction, f"{type(error).__name__}: {error}")
    report_action(interaction, component_name(interaction))
    await tell_privately(interaction, replies(interaction).t(SOMETHING_WENT_WRONG))


class _Steered(discord.ui.View):
    """A view whose every control first asks `actions.check` (controller role or Manage Server)."""

    def __init__(self, actions: PanelActions, timeout: float | None) -> None:
        super().__init__(timeout=timeout)
        self.actions = actions

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await self.actions.check(interaction)

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[discord.ui.View]
    ) -> None:
        await report_failure(interaction, error, getattr(item, "custom_id", str(item)))


class PanelView(_Steered):
    """The panel's controls. Without a state it is the template registered for persistent dispatch."""

    def __init__(
        self, actions: PanelActions, state: PanelState | None = None, text: Messages | None = None
    ) -> None:
        """Without `text` (the template registered at start) the labels are the English defaults."""
        super().__init__(actions, timeout=None)
        if text is None or state is None:
            self.range_select.options = [
                discord.SelectOption(label=f"{a}–{b}", value=f"{a}-{b}") for a, b in RANGES
            ]
            return
        self.range_select.options = range_options(text)
        self.range_select.placeholder = text.t("Choose a surah: pick a range first")
        self.reciter_select.placeholder = text.t("Reciter")
        self.previous_button.label = text.t("Previous")
        self.next_button.label = text.t("Next")
        self.search_button.label = text.t("Search")
        now = state.now
        paused = now is not None and now.state is PlayerState.PAUSED
        self.pause_button.label = text.t("Resume") if paused else text.t("Pause")
        self.pause_button.emoji = "▶️" if paused else "⏸️"
        self.pause_button.style = discord.ButtonStyle.success if paused else discord.ButtonStyle.primary
        self.loop_button.style = (
            discord.ButtonStyle.success if now and now.loop else discord.ButtonStyle.secondary
        )
        self.loop_button.label = text.t("Loop: {state}", state=on_off(bool(now and now.loop), text).lower())
        self.shuffle_button.style = (
            discord.ButtonStyle.success if now and now.shuffle else discord.ButtonStyle.secondary
        )
        self.shuffle_button.label = text.t(
            "Shuffle: {state}", state=on_off(bool(now and now.shuffle), text).lower()
        )
        options = reciter_options(state, text)
        if options:
            self.reciter_select.options = options
        else:
            self.reciter_select.options = [
                discord.SelectOption(label=text.t("No reciters imported"), value="-")
            ]
            self.reciter_select.disabled = True
        if now is None:
            for item in self.children:
                if isinstance(item, discord.ui.Button | discord.ui.Select):
                    item.disabled = True

    @discord.ui.button(label="Previous", emoji="⏮️", custom_id=PREVIOUS, row=0)
    async def previous_button(
        self, interaction: discord.Interaction, button: discord.ui.Button[PanelView]
    ) -> None:
        await self.actions.steer(interaction, Phrase.of("Went back"), Player.previous)

    @discord.ui.button(label="Pause", emoji="⏸️", custom_id=PAUSE, style=discord.ButtonStyle.primary, row=0)
    async def pause_button(
        self, interaction: discord.Interaction, button: discord.ui.Button[PanelView]
    ) -> None:
        now = self.actions.now_playing(interaction.guild_id)
        if now is not None and now.state is PlayerState.PAUSED:
            await self.actions.steer(interaction, Phrase.of("Resumed"), Player.resume)
        else:
            await self.actions.steer(interaction, Phrase.of("Paused"), Player.pause)

    @discord.ui.button(label="Next", emoji="⏭️", custom_id=NEXT, row=0)
    async def next_button(
        self, interaction: discord.Interaction, button: discord.ui.Button[PanelView]
    ) -> None:
        await self.actions.steer(interaction, Phrase.of("Skipped to the next surah"), Player.next)

    @discord.ui.button(label="Loop: off", emoji="🔁", custom_id=LOOP, row=1)
    async def loop_button(
        self, interaction: discord.Interaction, button: discord.ui.Button[PanelView]
    ) -> None:
        now = self.actions.now_playing(interaction.guild_id)
        on = not (now is not None and now.loop)
        what = Phrase.of("Loop on") if on else Phrase.of("Loop off")
        await self.actions.steer(interaction, what, lambda p: p.set_loop(on))

    @discord.ui.button(label="Shuffle: off", emoji="🔀", custom_id=SHUFFLE, row=1)
    async def shuffle_button(
        self, interaction: discord.Interaction, button: discord.ui.Button[PanelView]
    ) -> None:
        now = self.actions.now_playing(interaction.guild_id)
        on = not (now is not None and now.shuffle)
        what = Phrase.of("Shuffle on") if on else Phrase.of("Shuffle off")
        await self.actions.steer(interaction, what, lambda p: p.set_shuffle(on))

    @discord.ui.button(label="Search", emoji="🔎", custom_id=SEARCH, row=1)
    async def search_button(
        self, interaction: discord.Interaction, button: discord.ui.Button[PanelView]
    ) -> None:
        await interaction.response.send_modal(SearchModal(self.actions, interaction.id, replies(interaction)))

    @discord.ui.select(
        cls=discord.ui.Select[Any], placeholder="Choose a surah: pick a range first", custom_id=RANGE, row=2
    )
    async def range_select(
        self, interaction: discord.Interaction, select: discord.ui.Select[PanelView]
    ) -> None:
        bounds = parse_range(select.values[0]) if select.values else None
        text = replies(interaction)
        if bounds is None:
            await interaction.response.send_message(text.t("That range no longer exists."), ephemeral=True)
            return
        first, last = bounds
        await interaction.response.send_message(
            text.t("Surahs {range}: which one?", range=text.ltr(f"{first}–{last}")),
            view=SurahPickView(self.actions, first, last, timeout=SurahPickView.TIMEOUT, text=text),
            ephemeral=True,
        )

    @discord.ui.select(cls=discord.ui.Select[Any], placeholder="Reciter", custom_id=RECITER, row=3)
    async def reciter_select(
        self, interaction: discord.Interaction, select: discord.ui.Select[PanelView]
    ) -> None:
        slug = select.values[0] if select.values else ""
        label = next((o.label for o in select.options if o.value == slug), slug)
        await self.actions.steer(
            interaction, Phrase.of("Reciter: {name}", name=label), lambda p: p.set_reciter(slug)
        )


class SurahPickView(_Steered):
    """Step two of the surah picker: one range's surahs, sent to one member as an ephemeral message.

    Registered once with `timeout=None` as well, so a pick still works after a restart."""

    TIMEOUT = 600.0

    def __init__(
        self,
        actions: PanelActions,
        first: int = 1,
        last: int = 25,
        timeout: float | None = None,
        text: Messages | None = None,
    ) -> None:
        super().__init__(actions, timeout=timeout)
        if text is None:  # the template registered at start: only its custom_id matters
            self.surah_select.options = [
                discord.SelectOption(label=str(n), value=str(n)) for n in range(first, last + 1)
            ]
            return
        self.surah_select.options = surah_options(first, last, text)
        self.surah_select.placeholder = text.t("Surah")

    @discord.ui.select(cls=discord.ui.Select[Any], placeholder="Surah", custom_id=SURAH)
    async def surah_select(
        self, interaction: discord.Interaction, select: discord.ui.Select[SurahPickView]
    ) -> None:
        value = select.values[0] if select.values else ""
        if not value.isdecimal() or not 1 <= int(value) <= SURAH_COUNT:
            refuse(interaction, "bad input: no such surah")
            report_action(interaction, component_name(interaction), surah=value)
            await interaction.response.send_message(
                replies(interaction).t("That surah does not exist."), ephemeral=True
            )
            return
        number = int(value)
        await self.actions.steer(
            interaction,
            Phrase.of("Playing {surah}", surah=SurahLabel(number)),
            lambda p: p.play_surah(number),
            confirm=True,
        )


class SearchModal(discord.ui.Modal):
    """Type a surah's name or number; the best match plays.

    Its custom_id is unique per opening: discord.py files open modals by custom_id and drops one once
    it is submitted, so a shared id would let one member's submission discard another's open modal."""

    def __init__(self, actions: PanelActions, opened_by: int, text: Messages) -> None:
        super().__init__(title=text.t("Find a surah"), custom_id=f"{PREFIX}search:{opened_by}", timeout=600)
        self.actions = actions
        self.query: discord.ui.TextInput[SearchModal] = discord.ui.TextInput(
            custom_id=QUERY,
            placeholder=text.t(
                "Al-Kahf, The Cave, {arabic} or 18", arabic=load_metadata().surah(18).arabic_name
            ),
            min_length=1,
            max_length=100,
        )
        self.add_item(discord.ui.Label(text=text.t("Surah name or number"), component=self.query))

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await self.actions.check(interaction)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.actions.search(interaction, self.query.value)

    # discord.py's Modal.on_error itself narrows BaseView.on_error (no `item`): the same signature here.
    async def on_error(self, interaction: discord.Interaction, error: Exception, /) -> None:  # type: ignore[override]
        await report_failure(interaction, error, "search")
