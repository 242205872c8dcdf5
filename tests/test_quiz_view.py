"""The reveal's embed stays inside Discord's limits whatever the question, and never cuts an ayah."""

from __future__ import annotations

from quranbot.bot.quiz_view import reveal_embed
from quranbot.i18n.catalog import english as english_messages
from quranbot.quiz.achievements import ACHIEVEMENTS
from quranbot.quiz.member_stats import AnswerResult
from quranbot.quiz.question import Question, Reference
from quranbot.quran.text import TRANSLATION_FILE, load_text


def test_the_longest_question_and_a_long_range_fit_and_show_whole_ayahs_only() -> None:
    long = "word " * 200  # 1,000 characters, the format's limit
    question = Question(
        id="long",
        category="history",
        difficulty="advanced",
        question=long,
        question_ar=long,
        choices=("a" * 80, "b" * 80, "c" * 80, "d" * 80),
        answer=2,
        explanation=long,
        explanation_ar=long,
        references=(
            Reference(surah=2, first_ayah=1, last_ayah=30),
            Reference(citation="A book", url="https://x"),
        ),
    )
    results = [AnswerResult(10**17 + n, 2, 1.0, True, 30, 5, ACHIEVEMENTS) for n in range(50)]
    embed = reveal_embed(question, results, english_messages())
    assert len(embed) <= 6000 and len(embed.description or "") <= 4096
    assert all(len(f.value or "") <= 1024 for f in embed.fields)
    shown = embed.description or ""
    arabic, english = load_text(), load_text(TRANSLATION_FILE)
    whole = [a for a in range(1, 31) if arabic.ayah(2, a) in shown]
    assert whole and whole == list(range(1, len(whole) + 1))  # from the first, in order
    assert all(english.ayah(2, a) in shown for a in whole)
    assert "📖 A book — https://x" in shown  # a citation is never crowded out by ayahs
    if len(whole) < 30:
        assert "… continues to 2:30 (tanzil.net)" in shown
    assert "and 30 more" in embed.fields[0].value  # 50 right, 20 named
