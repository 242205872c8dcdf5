"""Choosing a surah or a reciter: small dialogs over the main screen, by keyboard or mouse.

The surah list is the 114 surahs of quran-data.xml, narrowed as you type by the same search the slash
commands' autocomplete uses (number, English or Arabic name, typos forgiven): no name is written here.
The bot has no method that lists its reciters, so the reciter dialog offers the ones it has reported
(each guild's current reciter) and takes any slug or name typed in.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from quranbot.quran.lookup import search_surahs
from quranbot.quran.metadata import Surah, load_metadata
from quranbot.tui.arabic import ArabicOrder, arabic_for_display

DIALOG_CSS = """
{cls} {{ align: center middle; }}
{cls} > Vertical {{
    width: 84; height: auto; max-height: 90%; border: round $accent; background: $surface; padding: 0 1;
}}
{cls} .hint {{ color: $text-muted; height: auto; }}
{cls} Input {{ margin: 1 0 0 0; }}
{cls} OptionList {{ height: auto; max-height: 20; margin-top: 1; border: none; padding: 0; }}
"""


def surah_option(surah: Surah, order: ArabicOrder) -> Option:
    arabic = arabic_for_display(surah.arabic_name, order)
    prompt = Content.assemble(
        (f"{surah.number:>3}. ", "dim"),
        (surah.name.ljust(16), "bold"),
        surah.english_name.ljust(28),
        arabic.rjust(10),  # no neighbours for a terminal's bidi to reorder it with
    )
    return Option(prompt, id=str(surah.number))


class _Picker(ModalScreen[str | None]):
    """A query line over a list: typing narrows the list, up/down move in it, Enter takes the highlight."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
        Binding("pagedown", "move(10)", show=False),
        Binding("pageup", "move(-10)", show=False),
    ]
    TITLE = ""
    HINT = ""
    PLACEHOLDER = ""

    def compose(self) -> ComposeResult:
        with Vertical() as dialog:
            dialog.border_title = self.TITLE
            yield Static(self.HINT, classes="hint")
            yield Input(placeholder=self.PLACEHOLDER, id="query")
            yield OptionList(id="choices")

    def on_mount(self) -> None:
        self.query_one("#choices", OptionList).can_focus = False
        self.fill("")
        self.query_one("#query", Input).focus()

    def options_for(self, query: str) -> list[Option]:
        """The choices matching `query`: each picker says what it lists (an abstract method)."""
        raise NotImplementedError

    def fill(self, query: str) -> None:
        choices = self.query_one("#choices", OptionList)
        choices.set_options(self.options_for(query))
        choices.highlighted = 0 if choices.option_count else None

    def on_input_changed(self, event: Input.Changed) -> None:
        self.fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        choice = self.query_one("#choices", OptionList).highlighted_option
        if choice is not None and choice.id is not None:
            self.dismiss(choice.id)
        else:
            self.dismiss(self.typed(event.value))

    def typed(self, text: str) -> str | None:
        """What Enter means when the list is empty."""
        return None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_move(self, step: int) -> None:
        choices = self.query_one("#choices", OptionList)
        if choices.option_count:
            current = choices.highlighted or 0
            choices.highlighted = max(0, min(choices.option_count - 1, current + step))

    def action_cancel(self) -> None:
        self.dismiss(None)


class SurahPicker(_Picker):
    """Dismisses with the surah number as a string, or None."""

    DEFAULT_CSS = DIALOG_CSS.format(cls="SurahPicker")
    TITLE = "Recite a surah"
    HINT = "A number or a name, English or Arabic.  ↑↓ choose · Enter recites · Esc cancels"
    PLACEHOLDER = "number or name, e.g. 18 or kahf"

    def __init__(self, order: ArabicOrder) -> None:
        super().__init__()
        self.order = order

    def options_for(self, query: str) -> list[Option]:
        surahs = search_surahs(query, limit=len(load_metadata().surahs))
        return [surah_option(surah, self.order) for surah in surahs]


class ReciterPicker(_Picker):
    """Dismisses with a reciter slug (or the name typed), or None."""

    DEFAULT_CSS = DIALOG_CSS.format(cls="ReciterPicker")
    TITLE = "Change reciter"
    HINT = (
        "The reciters imported on the bot's server; type to filter, or a slug or name.  "
        "↑↓ choose · Enter switches · Esc cancels"
    )
    PLACEHOLDER = "reciter slug or name"

    def __init__(self, known: dict[str, str], current: str | None) -> None:
        super().__init__()
        self.known = known  # slug -> display name
        self.current = current

    def options_for(self, query: str) -> list[Option]:
        wanted = query.strip().casefold()
        options = []
        for slug, name in sorted(self.known.items(), key=lambda item: item[1].casefold()):
            if wanted in slug.casefold() or wanted in name.casefold():
                mark = "  (playing)" if slug == self.current else ""
                options.append(Option(Content.assemble((name, "bold"), f"  {slug}", (mark, "dim")), id=slug))
        return options

    def typed(self, text: str) -> str | None:
        return text.strip() or None
