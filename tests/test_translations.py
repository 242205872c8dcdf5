"""The catalogs are complete and consistent, and what fills them keeps its order in Arabic.

Every message the bot's code can say (extracted from the source by Babel, as `tools/catalog.py
extract` does) must be translated in every catalog, with exactly the same placeholders, and the
committed `.mo` must be what the `.po` compiles to. A new `text.t("...")` without its Arabic, or an
Arabic line that drops or renames `{surah}`, fails here.
"""

from __future__ import annotations

import importlib.util
import re
import string
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import discord
import pytest
from discord import app_commands

from quranbot.bot.cogs.quran_text import check_range
from quranbot.bot.command_translator import CommandTranslator, catalog_language
from quranbot.bot.quran_refusals import refusal
from quranbot.i18n.bidi import FSI, LRI, PDI, Verbatim
from quranbot.i18n.catalog import Catalogs, Language, Phrase, english, language_named
from quranbot.i18n.surah_names import SurahLabel, surah_label
from quranbot.listening.achievements import ACHIEVEMENTS as LISTENING_ACHIEVEMENTS
from quranbot.quiz.achievements import ACHIEVEMENTS as QUIZ_ACHIEVEMENTS
from quranbot.quiz.achievements import BY_ID as QUIZ_BY_ID
from quranbot.quran.metadata import load_metadata
from quranbot.quran.search import search_ayahs

ROOT = Path(__file__).resolve().parent.parent
ARABIC_LETTER = re.compile("[\u0621-\u064a]")


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("catalog_tool", ROOT / "tools" / "catalog.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOOL = _tool()
TEMPLATE = TOOL.extract_template()
SOURCE_IDS = {m.id for m in TEMPLATE if m.id}


def placeholders(message: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(message) if name is not None}


def test_the_source_has_messages_and_every_language_has_a_catalog() -> None:
    # A broken extraction (a renamed keyword) would find nothing and pass everything below.
    assert len(SOURCE_IDS) > 200
    assert {"Now reciting", "Verse of the day · {surah} {ref}", "Playing {surah}"} <= SOURCE_IDS
    assert TOOL.languages() == [lang.value for lang in Language if lang is not Language.ENGLISH]


@pytest.mark.parametrize("language", TOOL.languages())
def test_every_message_is_translated_with_the_same_placeholders(language: str) -> None:
    catalog = TOOL.read_catalog(language)
    missing, differing = [], []
    for message_id in sorted(SOURCE_IDS):
        entry = catalog.get(message_id)
        if entry is None or not entry.string or entry.fuzzy:
            missing.append(message_id)
        elif placeholders(entry.string) != placeholders(message_id):
            differing.append(f"{message_id!r} -> {entry.string!r}")
    assert not missing, f"{language}: not translated: {missing}"
    assert not differing, f"{language}: placeholders differ: {differing}"


@pytest.mark.parametrize("language", TOOL.languages())
def test_the_committed_mo_is_the_po_compiled(language: str) -> None:
    mo = TOOL.po_path(language).with_suffix(".mo")
    assert mo.read_bytes() == TOOL.compiled(TOOL.read_catalog(language)), (
        f"{mo} is stale: run `.venv/bin/python tools/catalog.py compile`"
    )


def test_the_committed_template_lists_the_source_messages() -> None:
    with TOOL.TEMPLATE.open("rb") as file:
        committed = {m.id for m in TOOL.read_po(file) if m.id}
    assert committed == SOURCE_IDS, "run `.venv/bin/python tools/catalog.py extract` (then update)"


def test_arabic_isolates_every_filled_value_and_english_is_untouched() -> None:
    catalogs = Catalogs()
    arabic = catalogs.messages(Language.ARABIC)
    said = arabic.t("Reciting in {channel}", channel="<#123>")
    assert said != "Reciting in {channel}" and f"{FSI}<#123>{PDI}" in said
    # a reference is laid out left to right, once (not isolated twice)
    ref = arabic.t("Playing {ref}", ref=arabic.ltr("2:255"))
    assert f"{LRI}2:255{PDI}" in ref and ref.count(PDI) == 1
    # a URL is left bare: a mark after it would become part of the link
    url = "https://discord.com/channels/1/2/3"
    assert arabic.t("Control panel posted: {url}", url=Verbatim(url)).endswith(f" {url}")
    assert english().t("Playing {ref}", ref=english().ltr("2:255")) == "Playing 2:255"


def test_a_phrase_is_said_in_each_readers_language_and_its_str_is_english() -> None:
    catalogs = Catalogs()
    phrase = Phrase.of("Playing {surah}", surah=SurahLabel(18))
    kahf = load_metadata().surah(18)
    assert str(phrase) == f"Playing 18. {kahf.name} ({kahf.english_name})"
    assert phrase.said_in(catalogs.messages(Language.ENGLISH)) == str(phrase)
    arabic = phrase.said_in(catalogs.messages(Language.ARABIC))
    assert kahf.arabic_name in arabic and kahf.name not in arabic  # the data's Arabic name
    assert surah_label(18, Language.ARABIC) == f"18. {kahf.arabic_name}"


def test_languages_are_named_as_members_and_discord_name_them() -> None:
    assert language_named("ar") is language_named("AR-sa") is language_named("العربية") is Language.ARABIC
    assert language_named("en-GB") is language_named("English") is Language.ENGLISH
    assert language_named("fr") is None and language_named(None) is None


async def test_the_command_translator_answers_none_for_every_discord_locale() -> None:
    """Discord has no Arabic locale: every name and description stays English, and nothing is keyed
    by a locale Discord refuses."""
    assert all(catalog_language(locale) is None for locale in discord.Locale)
    translator = CommandTranslator(Catalogs())
    context = app_commands.TranslationContext(
        app_commands.TranslationContextLocation.command_description, None
    )
    for locale in discord.Locale:
        assert (
            await translator.translate(app_commands.locale_str("Pause the recitation."), locale, context)
            is None
        )


def test_every_achievement_description_is_said_in_arabic_and_its_english_is_unchanged() -> None:
    arabic = Catalogs().messages(Language.ARABIC)
    for achievement in (*QUIZ_ACHIEVEMENTS, *LISTENING_ACHIEVEMENTS):
        description = achievement.description
        assert description.said_in(english()) == str(description)
        said = description.said_in(arabic)
        assert ARABIC_LETTER.search(said) and "{" not in said, achievement.id
    mastery = QUIZ_BY_ID["category-mastered"].description
    assert str(mastery) == "25 correct in one category at 90% accuracy or better"
    assert "25" in mastery.said_in(arabic) and "90%" in mastery.said_in(arabic)


def _refused(call: Callable[[], object]) -> ValueError:
    with pytest.raises(ValueError) as caught:
        call()
    return caught.value


def test_the_quran_readers_refusals_are_said_in_the_members_language() -> None:
    """The data reader's errors (and /ayah's range checks) carry their facts; said in English they are
    exactly their `str()` (what the CLI shows), in Arabic the catalog's, the surah named by the data."""
    arabic = Catalogs().messages(Language.ARABIC)
    metadata = load_metadata()
    fatiha = metadata.surah(1)
    errors = [
        _refused(lambda: metadata.surah(115)),
        _refused(lambda: metadata.check_ayah(1, 9)),
        _refused(lambda: search_ayahs("?!")),
        _refused(lambda: check_range(2, 10, 5)),
        _refused(lambda: check_range(1, 1, 9)),
    ]
    assert str(errors[1]) == f"Surah 1 ({fatiha.name}) has 7 ayahs; 9 is out of range 1–7"
    for error in errors:
        assert refusal(error, english()) == str(error)
        said = refusal(error, arabic)
        assert ARABIC_LETTER.search(said) and "{" not in said, said
    for error in (errors[1], errors[4]):
        said = refusal(error, arabic)
        assert fatiha.arabic_name in said and fatiha.name not in said
    assert {"7", "9"} <= set(re.findall("[0-9]+", refusal(errors[1], arabic)))
