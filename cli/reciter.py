"""`quranbot reciter ...`: import recitations once, then list, inspect, verify, rename and remove them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from quranbot.audio.importer import Importer, ImportOptions, ImportProgress, ImportResult
from quranbot.audio.library import Library, LibraryError, Reciter
from quranbot.audio.naming import ImportPlan
from quranbot.audio.sample import sample_frequency, write_sample_reciter
from quranbot.audio.source import Source, SourceError, open_source
from quranbot.audio.verify import verify_reciter
from quranbot.cli.alerts import announce
from quranbot.cli.bot_socket import ask_each
from quranbot.cli.context import cli_context
from quranbot.cli.output import fail, human_size, out, warn
from quranbot.control.client import ControlClient
from quranbot.control.machine import MachineBots, machine_bots
from quranbot.quran.metadata import load_metadata
from quranbot.store.lock import lock_holder
from quranbot.store.state import reciters_in_use

KIND_LABELS = {"surah": "one file per surah", "ayah": "one file per ayah", "both": "per surah and per ayah"}

reciter_app = typer.Typer(help="Import, list, verify and manage reciters.", no_args_is_help=True)


def _library(ctx: typer.Context) -> Library:
    return Library(cli_context(ctx).paths.audio_dir)


def _get(library: Library, name: str) -> Reciter:
    try:
        return library.get(name)
    except LibraryError as exc:
        raise fail(str(exc)) from None


def _hours(hours: float) -> str:
    whole_minutes = round(hours * 60)
    return f"{whole_minutes // 60}:{whole_minutes % 60:02d}"


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 7, 9, 10] → "1–3, 7, 9–10"."""
    parts: list[str] = []
    start = previous = None
    for n in [*numbers, None]:
        if n is not None and previous is not None and n == previous + 1:
            previous = n
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}–{previous}")
        start = previous = n
    return ", ".join(parts) or "none"


@reciter_app.command("list")
def list_command(ctx: typer.Context) -> None:
    """The imported reciters: surahs, ayahs, hours of audio, size on disk."""
    library = _library(ctx)
    reciters = library.reciters()
    for problem in library.problems:
        warn(problem)
    if not reciters:
        out.print(f"No reciters in {library.audio_dir}: add one with `quranbot reciter import SOURCE`.")
        return
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("Name", "Folder", "Surahs", "Ayahs", "Hours", "Size"):
        table.add_column(
            column, justify="right" if column in ("Surahs", "Ayahs", "Hours", "Size") else "left"
        )
    for reciter in reciters:
        label = reciter.name
        table.add_row(
            label,
            reciter.slug,
            str(len(reciter.surahs())),
            str(reciter.ayah_count),
            _hours(reciter.hours),
            human_size(reciter.size),
        )
    out.print(table)


@reciter_app.command("show")
def show_command(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="Reciter name or folder.")]
) -> None:
    """One reciter in detail: names, source, what it covers and what is missing."""
    reciter = _get(_library(ctx), name)
    metadata = load_metadata()
    missing = [s.number for s in metadata.surahs if s.number not in reciter.surahs()]
    out.print(f"[bold]{reciter.name}[/]" + (f"  {reciter.arabic_name}" if reciter.arabic_name else ""))
    rows = [
        ("Folder", str(reciter.directory)),
        ("Kind", KIND_LABELS.get(reciter.kind or "", "empty")),
        ("Source", reciter.source or "-"),
        ("Imported", reciter.imported_at or "-"),
        ("Encoding", f"Ogg Opus {reciter.bitrate_kbps} kbps, " + (
            "fixed-level tones" if reciter.sample else f"loudness {reciter.target_lufs:g} LUFS")),
        ("Surahs", f"{len(reciter.surahs())} of 114"),
        ("Missing surahs", _ranges(missing)),
        ("Per-ayah surahs", _ranges(reciter.ayah_surahs())),
        ("Audio", f"{_hours(reciter.hours)} h, {human_size(reciter.size)}"),
    ]  # fmt: skip
    if reciter.sample:
        rows.insert(0, ("Note", "sample tones for testing and the demo: not a recitation"))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in rows:
        grid.add_row(label, value)
    out.print(grid)


@reciter_app.command("rename")
def rename_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Reciter name or folder.")],
    new_name: Annotated[str, typer.Argument(help="The new display name.")],
    arabic_name: Annotated[str | None, typer.Option(help="A new Arabic display name.")] = None,
) -> None:
    """Change a reciter's display name (its folder stays, so saved playback keeps working)."""
    library = _library(ctx)
    _get(library, name)
    renamed = library.rename(name, new_name, arabic_name)
    out.print(f"Renamed {renamed.slug} to {renamed.name!r}.")


@reciter_app.command("remove")
def remove_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Reciter name or folder.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    force: Annotated[bool, typer.Option(help="Remove it even if a server is playing it.")] = False,
) -> None:
    """Delete a reciter's files. Refuses a reciter a server is playing, unless --force."""
    paths = cli_context(ctx).paths
    library = _library(ctx)
    reciter = _get(library, name)
    bots = machine_bots(paths)
    if bots.sharded:
        users = shards_using(bots, reciter.slug)
        if users and not force:
            count = sum(len(user.guilds) for user in users)
            where = "; ".join(user.describe() for user in users)
            raise fail(f"{reciter.name} is in use in {count} server(s): {where}. Switch them to another "
                       "reciter first, or pass --force")  # fmt: skip
    else:
        guilds = sorted(g for g, slug in reciters_in_use(paths.state_dir).items() if slug == reciter.slug)
        if guilds and not force:
            running = lock_holder(paths.state_dir)
            state = f"the bot (process {running}) is playing it" if running else "it is the saved reciter"
            raise fail(f"{reciter.name} is in use: {state} in {len(guilds)} server(s). Switch them to "
                       "another reciter first, or pass --force")  # fmt: skip
    if not yes and not typer.confirm(
        f"Delete {reciter.name} ({human_size(reciter.size)} in {reciter.directory})?"
    ):
        raise fail("Nothing removed")
    library.remove(reciter.slug)
    out.print(f"Removed {reciter.name}.")


@dataclass(frozen=True)
class ShardUse:
    """The servers of one shard that play (or saved) a reciter."""

    shard: int | None
    guilds: tuple[int, ...]
    #: The process holding the shard's state, when it runs.
    pid: int | None

    def describe(self) -> str:
        who = "QuranBot" if self.shard is None else f"shard {self.shard}"
        how = f"(process {self.pid}) is playing it" if self.pid else "saved it as the reciter"
        return f"{who} {how} in {len(self.guilds)} ({', '.join(map(str, self.guilds))})"


def shards_using(bots: MachineBots, slug: str) -> list[ShardUse]:
    """Every shard of the machine whose guilds play `slug`: its saved playback.json, and what each
    running shard says it plays now (a switch not yet flushed to its file)."""
    live: dict[int | None, set[int]] = {}
    for answer in ask_each(bots.sockets, _reciting):
        if answer.result is not None:
            live[answer.bot.shard] = {g for g, playing in answer.result.items() if playing == slug}
    users = []
    for bot in bots.sockets:
        saved = {g for g, playing in reciters_in_use(bot.paths.state_dir).items() if playing == slug}
        guilds = saved | live.get(bot.shard, set())
        if guilds:
            users.append(ShardUse(bot.shard, tuple(sorted(guilds)), lock_holder(bot.paths.state_dir)))
    return users


async def _reciting(client: ControlClient) -> dict[int, str]:
    status = await client.call("status")
    return {int(g["guild_id"]): str(g["reciter"]) for g in status["guilds"] if g.get("reciter")}


@reciter_app.command("import")
def import_command(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="A folder or a .zip of recitation files.")],
    name: Annotated[str | None, typer.Option(help="Display name (default: the source's name).")] = None,
    arabic_name: Annotated[str | None, typer.Option(help="Arabic display name.")] = None,
    bitrate: Annotated[int, typer.Option(min=16, max=256, help="Opus bitrate, kbps (64 suits speech).")] = 64,
    jobs: Annotated[
        int | None, typer.Option(min=1, help="Files transcoded at once (default: all cores).")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Show what was found, convert nothing.")] = False,
) -> None:
    """Import a reciter: map every file to a surah/ayah, then transcode once to loudness-normalised Opus.

    Re-running it is incremental: files whose content did not change are skipped.
    """
    paths = cli_context(ctx).paths
    options = ImportOptions(
        name=name or source.stem.replace("_", " ").strip() or "Reciter",
        arabic_name=arabic_name,
        bitrate_kbps=bitrate,
        jobs=jobs,
    )
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[audio]}"),
        TextColumn("{task.fields[speed]}"),
        TimeElapsedColumn(),
        console=out,
    )
    task = progress.add_task("Transcoding", total=None, audio="", speed="")

    def advance(update: ImportProgress) -> None:
        progress.update(
            task,
            completed=update.files_done,
            total=update.files_total,
            audio=f"{_hours(update.audio_seconds / 3600)} h audio",
            speed=f"{update.speed:.0f}x realtime",
        )

    importer = Importer(paths.audio_dir, options, progress=advance)
    try:
        with open_source(source, workdir=paths.audio_dir if paths.audio_dir.is_dir() else None) as opened:
            found, copies = importer.scan(opened)
            _print_plan(opened, found, copies, importer)
            if not found.matches:
                raise fail("No recitation files recognised: nothing to import")
            if dry_run:
                return
            with progress:
                result = importer.run(opened, found, copies)
    except SourceError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail(
            "Interrupted: nothing was changed (the previous version of the reciter is intact)"
        ) from None
    _print_result(result)
    if result.aborted or result.failed or result.reciter is None:
        raise typer.Exit(1)
    reciter = result.reciter
    surahs = len(reciter.surahs())
    announce(paths, f"Reciter imported: {reciter.name} ({surahs} surahs, folder {reciter.slug})")


def _print_plan(source: Source, found: ImportPlan, copies: list[list[str]], importer: Importer) -> None:
    metadata = load_metadata()
    out.print(f"[bold]{source.path}[/]: {len(source.files())} files")
    surahs = sorted({s for s, a in found.matches if a is None})
    ayah_surahs = sorted({s for s, a in found.matches if a is not None})
    out.print(f"  Recognised: {len(found.matches)} ({KIND_LABELS.get(found.kind or '', 'nothing')})")
    if surahs:
        out.print(f"  Whole surahs: {len(surahs)} of 114")
    if ayah_surahs:
        out.print(f"  Surahs with per-ayah files: {_ranges(ayah_surahs)}")
    out.print(f"  Missing surahs: {_ranges(found.missing_surahs)}")
    for surah, ayahs in sorted(found.incomplete_surahs.items()):
        warn(f"surah {surah} ({metadata.surah(surah).name}) lacks ayahs {_ranges(ayahs)}")
    for group in copies:
        out.print(f"  Identical copies, one imported: {', '.join(group)}")
    for (surah, ayah), relatives in found.duplicates:
        what = f"surah {surah}" if ayah is None else f"{surah}:{ayah}"
        warn(f"{len(relatives)} different files for {what}: {', '.join(relatives)}; none imported (keep one)")
    for item in found.unrecognised:
        warn(f"{item.relative}: {item.reason}")
    if found.ignored:
        out.print(
            f"  Ignored: {len(found.ignored)} (" + ", ".join(sorted({i.why for i in found.ignored})) + ")"
        )
    existing = importer.existing()
    target = importer.directory
    verb = "Updating" if existing else "Creating"
    out.print(f"{verb} reciter [bold]{importer.options.name}[/] in {target}")


def _print_result(result: ImportResult) -> None:
    if result.aborted:
        out.print(f"[bold red]Stopped:[/] {escape(result.aborted)}. Nothing already imported was changed.")
        return
    for failure in result.failed:
        warn(f"{failure.relative}: {failure.reason}")
    speed = result.audio_seconds / result.elapsed_seconds if result.elapsed_seconds else 0.0
    out.print(
        f"Imported {len(result.imported)}, unchanged {len(result.unchanged)}, failed {len(result.failed)}"
        + (
            f" ({_hours(result.audio_seconds / 3600)} h of audio at {speed:.0f}x realtime)"
            if result.imported
            else ""
        )
    )
    if result.reciter is not None:
        reciter = result.reciter
        out.print(
            f"[bold]{reciter.name}[/]: {len(reciter.surahs())} surahs, {reciter.ayah_count} ayahs, "
            f"{_hours(reciter.hours)} h, {human_size(reciter.size)}"
        )


@reciter_app.command("sample")
def sample_command(
    ctx: typer.Context,
    seconds: Annotated[float, typer.Option(min=0.5, max=60, help="Length of each surah's tone.")] = 3.0,
) -> None:
    """Generate the sample reciter: a distinct tone per surah, for the demo and tests. Not a recitation."""
    paths = cli_context(ctx).paths
    reciter = write_sample_reciter(paths.audio_dir, seconds=seconds)
    out.print(
        f"Wrote {reciter.name}: {len(reciter.surahs())} surahs of {seconds:g} s tones in {reciter.directory} "
        f"(surah N is {sample_frequency(1) - 10:g} + 10·N Hz)"
    )


@reciter_app.command("verify")
def verify_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Reciter name or folder.")],
    jobs: Annotated[
        int | None, typer.Option(min=1, help="Files checked at once (default: all cores).")
    ] = None,
) -> None:
    """Check every file: present, checksum, 20 ms Opus frames, frame count, decodes. Exit 1 on any problem."""
    reciter = _get(_library(ctx), name)
    with Progress(console=out, transient=True) as progress:
        task = progress.add_task("Verifying", total=len(reciter.tracks))
        problems = verify_reciter(reciter, jobs, progress=lambda n: progress.advance(task, n))
    for problem in problems:
        warn(f"{problem.file}: {problem.problem}")
    if problems:
        raise fail(f"{len(problems)} of {len(reciter.tracks)} files of {reciter.name} have problems")
    out.print(f"{reciter.name}: all {len(reciter.tracks)} files verified.")
