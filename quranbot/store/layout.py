"""Which files make up the bot's state, split by how often they change.

A position update rewrites only the small, hot `playback.json`, never the large statistics. Backups
archive exactly these files; recovery restores them one by one.
"""

from __future__ import annotations

from pathlib import Path

#: Per guild: reciter, surah, ayah, position, loop, shuffle order, paused. Small; written every few seconds.
PLAYBACK = "playback.json"
#: Per guild: voice/panel channels, controller role, panel message id. Small; written on change.
SETTINGS = "settings.json"
#: Per guild and member: quiz points and streaks. Written after each answer.
QUIZ = "quiz.json"
#: Per guild and member: listening time. Large; written on the flush interval.
STATS = "stats.json"
#: Per guild: the questions open now (with their answers), quiz settings, schedule, recent questions.
#: Small; answers are buffered and written on the playback interval, the rest when it changes.
QUIZZES = "quizzes.json"

STATE_FILES: tuple[str, ...] = (PLAYBACK, SETTINGS, QUIZ, STATS, QUIZZES)


def state_file_paths(state_dir: Path) -> list[Path]:
    return [state_dir / name for name in STATE_FILES]
