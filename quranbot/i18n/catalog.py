"""The message catalogs: gettext `.po` files per language, compiled to `.mo`, read with the stdlib.

Why gettext: it is the standard the translators' tools speak (Poedit, Weblate, Crowdin), Babel
extracts every message from the source (`pybabel extract`, see docs/TRANSLATING.md) so none is missed,
and the English text itself is the message id, so the code reads as it did and English needs no
catalog at all. The `.mo` files are compiled by Babel and committed beside the `.po` files: the bot
reads them with Python's own `gettext`, so neither `pip install .` nor a fresh clone needs Babel or a
build step, and tests/test_translations.py fails when a committed `.mo` is older than its `.po`.

Placeholders are `str.format` names (`{surah}`), filled by keyword. In a right-to-left language every
filled value is put in a Unicode isolate (quranbot/i18n/bidi.py), so a Latin name, a number or a
mention inside Arabic keeps its order.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Protocol, runtime_checkable

from quranbot.i18n.bidi import PDI, RLI, Verbatim, isolated, ltr

DOMAIN = "quranbot"


class Language(StrEnum):
    """The languages members can choose. The value is the catalog's folder under `locales/`."""

    ENGLISH = "en"
    ARABIC = "ar"

    @property
    def right_to_left(self) -> bool:
        return self is Language.ARABIC

    @property
    def native_name(self) -> str:
        """How the language names itself (the `/language` choices)."""
        return NATIVE_NAMES[self]


NATIVE_NAMES = {Language.ENGLISH: "English", Language.ARABIC: "العربية"}
DEFAULT_LANGUAGE = Language.ENGLISH


def N_(message: str) -> str:
    """Mark a message kept in a constant for extraction; it is translated where it is shown."""
    return message


def language_named(value: str | None) -> Language | None:
    """`ar`, `ar-SA`, `AR`, `en-US`, `English`, `العربية` -> the Language; None for anything else."""
    if not value:
        return None
    text = value.strip()
    for language in Language:
        if text.casefold() in (language.value, language.native_name.casefold(), language.name.casefold()):
            return language
    head = text.replace("_", "-").split("-")[0].casefold()
    return next((language for language in Language if language.value == head), None)


@runtime_checkable
class Sayable(Protocol):
    """A placeholder value that reads differently per language (a surah's name, a nested phrase)."""

    def said_in(self, text: Messages) -> str: ...


@dataclass(frozen=True)
class Phrase:
    """A message kept to be said later, to whoever reads it, in their language: the panel's "last
    action" is said by one member and read by the whole server. `str()` is the English."""

    message: str
    placeholders: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, message: str, /, **placeholders: object) -> Phrase:
        return cls(message, tuple(placeholders.items()))

    def said_in(self, text: Messages) -> str:
        return text.t(self.message, **dict(self.placeholders))

    def __str__(self) -> str:
        values = {k: str(v) for k, v in self.placeholders}
        return self.message.format(**values) if values else self.message


@dataclass(frozen=True)
class Messages:
    """One language's messages: what the views and cogs are handed to say anything to members."""

    language: Language
    _translations: gettext.NullTranslations

    def t(self, message: str, /, **placeholders: object) -> str:
        """`message` (the English text, as in the source) in this language, its placeholders filled."""
        text = self._translations.gettext(message)
        if not placeholders:
            return text
        placeholders = {k: v.said_in(self) if isinstance(v, Sayable) else v for k, v in placeholders.items()}
        if self.language.right_to_left:
            placeholders = {k: _isolated(v) for k, v in placeholders.items()}
        return text.format(**placeholders)

    def ltr(self, value: str) -> str:
        """A reference, clock or count laid out left to right inside this language's text."""
        return ltr(value) if self.language.right_to_left else value


def said(value: object, text: Messages) -> str:
    """A value as `text`'s reader reads it: a `Sayable` said in their language, anything else as it is."""
    return value.said_in(text) if isinstance(value, Sayable) else str(value)


# TRANSLATORS: between the items of a list ("Al-Kahf (18) 110, Maryam (19) 98").
LIST_SEPARATOR = N_(", ")


@dataclass(frozen=True)
class LeftToRight:
    """A reference, clock or count kept in a `Phrase`: laid out left to right in a right-to-left
    language (`Messages.ltr`), as it is in English."""

    value: str

    def said_in(self, text: Messages) -> str:
        return text.ltr(self.value)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Listed:
    """Values said one after another with the language's list separator. In a right-to-left language
    the list is one right-to-left isolate: its items are isolated already, so a first-strong isolate
    around it would find no letter of its own and lay the items out left to right."""

    items: tuple[object, ...]

    def said_in(self, text: Messages) -> str:
        joined = text.t(LIST_SEPARATOR).join(said(item, text) for item in self.items)
        return f"{RLI}{joined}{PDI}" if text.language.right_to_left else joined

    def __str__(self) -> str:
        return ", ".join(str(item) for item in self.items)


def _isolated(value: object) -> object:
    if isinstance(value, Verbatim) or not isinstance(value, str | int | float):
        return value
    return isolated(str(value))


def english() -> Messages:
    """The source text itself: for layout that must not depend on a language (page packing)."""
    return Messages(Language.ENGLISH, gettext.NullTranslations())


class Catalogs:
    """Every language's catalog, loaded once at start; hand `messages()` to whatever renders."""

    def __init__(self) -> None:
        self._messages = {language: Messages(language, _load(language)) for language in Language}

    def messages(self, language: Language) -> Messages:
        return self._messages[language]

    def translate(self, language: Language, message: str, /, **placeholders: object) -> str:
        return self._messages[language].t(message, **placeholders)


def _load(language: Language) -> gettext.NullTranslations:
    """The compiled catalog of `language`; English is the message ids themselves."""
    if language is DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    mo = resources.files(__package__).joinpath("locales", language.value, "LC_MESSAGES", f"{DOMAIN}.mo")
    with mo.open("rb") as file:
        return gettext.GNUTranslations(file)
