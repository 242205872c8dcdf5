"""`quranbot quiz ...`: check a curated bank, import it, and see what the quiz can ask.

An import is all or nothing: the file is checked against the whole bank it joins (generated, shipped and
already imported questions) and copied into the banks directory only if nothing is wrong. The copy is
written atomically, so a running bot, which looks at the directory before each question, sees either
the old bank or the new one and picks it up without a restart.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from quranbot.atomic_file import atomic_write_bytes, fsync_directory
from quranbot.cli.context import cli_context
from quranbot.cli.output import fail, out
from quranbot.cli.shard_choice import ShardOption, chosen_bots
from quranbot.paths import Paths
from quranbot.quiz.bank import BankComposition, BankLoader, QuestionBank, bank_file_name
from quranbot.quiz.bank_file import ParsedBank, Problem, parse_bank_bytes
from quranbot.quiz.member_stats import guild_summary
from quranbot.quiz.question import CATEGORIES, DIFFICULTIES, LETTERS, Question
from quranbot.quiz.validate import check_parsed
from quranbot.store.state import quiz_scores_on_disk

quiz_app = typer.Typer(help="Check, import and list quiz questions.", no_args_is_help=True)

_QUESTION_WIDTH = 70
_ANSWER_WIDTH = 30

BankFile = Annotated[
    Path,
    typer.Argument(help="A bank file (TOML, see docs/QUIZ.md).", exists=True, dir_okay=False, readable=True),
]


def _bank(paths: Paths) -> QuestionBank:
    return BankLoader(paths.quiz_banks_dir).bank()


def _by_category(questions: tuple[Question, ...]) -> str:
    counts = Counter(q.category for q in questions)
    return ", ".join(f"{counts[c]} {c}" for c in CATEGORIES if counts[c])


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _check(paths: Paths, file: Path) -> tuple[bytes, ParsedBank, list[Problem], str | None]:
    """The bytes of `file`, its bank, its problems against the bank it would join, and the file name it
    would get. What is checked is what is copied: the file is read once.

    An imported bank of the same name is left out of the comparison: `file` is its new version (which
    import refuses to put in its place without --force)."""
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise fail(f"Cannot read {file}: {exc}") from None
    parsed = parse_bank_bytes(raw, str(file))
    target = bank_file_name(parsed.name) if parsed.name else None
    return raw, parsed, check_parsed(parsed, _bank(paths).without_file(target)), target


def _print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        out.print(escape(str(problem)), soft_wrap=True, highlight=False)


@quiz_app.command("validate")
def validate_command(ctx: typer.Context, file: BankFile) -> None:
    """Check a bank file completely: print every problem as file:line: message; exit 1 if any."""
    _, parsed, problems, _ = _check(cli_context(ctx).paths, file)
    if problems:
        _print_problems(problems)
        raise fail(f"{_plural(len(problems), 'problem')} in {file}")
    out.print(
        f"{escape(str(file))}: OK, {_plural(len(parsed.questions), 'question')} "
        f"({_by_category(parsed.questions)}) in bank {escape(repr(parsed.name))}",
        soft_wrap=True,
        highlight=False,
    )


def _state_owner(paths: Paths) -> tuple[int, int] | None:
    """Who files in the state directory must belong to when root imports (`sudo quranbot quiz import`):
    the bot's user, which owns the state directory. None when there is nothing to hand over."""
    if os.geteuid() != 0:
        return None
    try:
        info = paths.state_dir.stat()
    except FileNotFoundError:
        return None
    return None if info.st_uid == 0 else (info.st_uid, info.st_gid)


def _install(paths: Paths, name: str, raw: bytes) -> Path:
    """Put the bank in the banks directory (0700, the file 0600) atomically, owned by the bot's user
    before it appears under its name, so a running bot never meets a file it cannot read."""
    directory = paths.quiz_banks_dir
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    owner = _state_owner(paths)
    if owner is not None:
        os.chown(directory, *owner)
    destination = directory / name
    staged = directory / f".{name}.importing"  # the loader skips dot-files
    try:
        atomic_write_bytes(staged, raw, mode=0o600)
        if owner is not None:
            os.chown(staged, *owner)
        os.replace(staged, destination)
    finally:
        with contextlib.suppress(FileNotFoundError):
            staged.unlink()
    fsync_directory(directory)
    return destination


@quiz_app.command("import")
def import_command(
    ctx: typer.Context,
    file: BankFile,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an imported bank of the same name.")
    ] = False,
) -> None:
    """Check a bank file and, if nothing is wrong, copy it into the bot's banks (all or nothing)."""
    paths = cli_context(ctx).paths
    raw, parsed, problems, target = _check(paths, file)
    if problems or target is None:
        _print_problems(problems)
        raise fail(f"{_plural(len(problems), 'problem')} in {file}: nothing was imported")
    destination = paths.quiz_banks_dir / target
    replacing = destination.exists()
    if replacing and not force:
        raise fail(
            f"A bank named {parsed.name!r} is already imported, as {destination}. "
            "Use --force to replace it; nothing was imported"
        )
    try:
        _install(paths, target, raw)
    except OSError as exc:
        raise fail(f"The import failed: {exc}; nothing was imported") from None
    verb = "Replaced" if replacing else "Imported"
    out.print(
        f"{verb} bank {escape(repr(parsed.name))}: {_plural(len(parsed.questions), 'question')} "
        f"({_by_category(parsed.questions)}) into {escape(str(destination))}",
        soft_wrap=True,
        highlight=False,
    )
    out.print(
        "A running bot picks it up by itself, before its next question: no restart needed.", soft_wrap=True
    )


def _choose(value: str | None, allowed: tuple[str, ...], option: str) -> str | None:
    if value is not None and value not in allowed:
        raise fail(f"{option} {value!r} is not one of {', '.join(allowed)}", code=2)
    return value


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


@quiz_app.command("list")
def list_command(
    ctx: typer.Context,
    category: Annotated[
        str | None, typer.Option("--category", help=f"Only this category: {', '.join(CATEGORIES)}.")
    ] = None,
    difficulty: Annotated[
        str | None, typer.Option("--difficulty", help=f"Only this difficulty: {', '.join(DIFFICULTIES)}.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Every question in full, with its references, as JSON.")
    ] = False,
) -> None:
    """The questions the quiz can ask: generated, shipped and imported."""
    wanted_category = _choose(category, CATEGORIES, "--category")
    wanted_difficulty = _choose(difficulty, DIFFICULTIES, "--difficulty")
    questions = _bank(cli_context(ctx).paths).questions(wanted_category, wanted_difficulty)
    if as_json:
        typer.echo(json.dumps([q.to_json() for q in questions], ensure_ascii=False, indent=2))
        return
    if not questions:
        out.print("No questions match.")
        return
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("Id", overflow="fold", min_width=12)
    table.add_column("Category", no_wrap=True, min_width=8)
    table.add_column("Difficulty", no_wrap=True, min_width=12)
    table.add_column("Question", ratio=2, min_width=16)
    table.add_column("Answer", ratio=1, min_width=12)
    for q in questions:
        text = q.question + (f" {q.quote}" if q.quote else "")
        table.add_row(
            escape(q.id),
            q.category,
            q.difficulty,
            escape(_short(text, _QUESTION_WIDTH)),
            escape(f"{LETTERS[q.answer]}. {_short(q.correct, _ANSWER_WIDTH)}"),
        )
    out.print(table)
    out.print(f"{_plural(len(questions), 'question')}")


def _counts_table(title: str, column: str, counts: dict[str, int]) -> Table:
    total = sum(counts.values())
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column(column, no_wrap=True)
    table.add_column("Questions", justify="right")
    table.add_column("Share", justify="right")
    for name, count in counts.items():
        table.add_row(escape(name), str(count), f"{count / total:.0%}" if total else "–")
    return table


def _print_composition(composition: BankComposition) -> None:
    title = f"Quiz bank: {_plural(composition.total, 'question')}"
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    for column in ("Source", "Bank", "File", "Questions"):
        table.add_column(column, justify="right" if column == "Questions" else "left", no_wrap=True)
    for kind, name, file, count in composition.sources:
        table.add_row(kind, escape(name), escape(file or "–"), str(count))
    out.print(table)
    out.print(_counts_table("By category", "Category", composition.categories))
    out.print(_counts_table("By difficulty", "Difficulty", composition.difficulties))
    out.print(_counts_table("Generated, by template", "Template", composition.templates))


@quiz_app.command("stats")
def stats_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
    shard: ShardOption = None,
) -> None:
    """What the bank holds (questions per source, category and difficulty) and how members do (per
    server: players, answers, accuracy, the top five by points). Read from the files, so it works
    whether the bot runs or not; sharded, from every shard's (each its own servers), or --shard N's."""
    paths = cli_context(ctx).paths
    composition = BankComposition.of(_bank(paths))
    members: dict[int, dict[str, object]] = {}
    owner: dict[int, int] = {}
    bots = chosen_bots(paths, shard)
    for bot in bots:
        for guild, scores in quiz_scores_on_disk(bot.paths.state_dir).items():
            members[guild] = guild_summary(scores)
            if bot.shard is not None:
                owner[guild] = bot.shard
    if as_json:
        report: dict[str, object] = {
            "bank": composition.to_json(),
            "guilds": {str(g): f for g, f in sorted(members.items())},
        }
        if bots[0].shard is not None:
            report["shards"] = {str(g): s for g, s in sorted(owner.items())}
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    _print_composition(composition)
    for guild, figures in sorted(members.items()):
        out.print(_members_table(guild, figures, owner.get(guild)))
    if not members:
        out.print("No member has answered a question yet.")


def _members_table(guild: int, figures: dict[str, object], shard: int | None = None) -> Table:
    """Print the server's one-line summary (sharded, with its shard); return its top five as a table."""
    accuracy = figures["accuracy"]
    shown = "–" if not isinstance(accuracy, float) else f"{accuracy:.0%}"
    where = "" if shard is None else f" (shard {shard})"
    out.print(
        f"Server {guild}{where}: {figures['players']} players, {figures['answers']} answers, {shown} right"
    )
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("Rank", "Member id", "Points", "Answered", "Best streak"):
        table.add_column(column, justify="left" if column == "Member id" else "right", no_wrap=True)
    top = figures["top"]
    assert isinstance(top, list)
    for row in top:
        table.add_row(*(str(row[k]) for k in ("rank", "user_id", "points", "answered", "best_streak")))
    return table
