"""`quranbot reciter ...`: import recitations once, then list, inspect, verify, rename and remove them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.table import Table

from quranbot.audio.library import Library, LibraryError, Reciter
from quranbot.cli.context import cli_context
from quranbot.cli.output import fail, human_size, out, warn
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
        label = reciter.name + (" (sample)" if reciter.sample else "")
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
        ("Encoding", f"Ogg Opus {reciter.bitrate_kbps} kbps, loudness {reciter.target_lufs:g} LUFS"),
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
    guilds = sorted(g for g, slug in reciters_in_use(paths.state_dir).items() if slug == reciter.slug)
    if guilds and not force:
        running = lock_holder(paths.state_dir)
        state = f"the bot (process {running}) is playing it" if running else "it is the saved reciter"
        raise fail(f"{reciter.name} is in use: {state} in {len(guilds)} server(s). Switch them to another "
                   "reciter first, or pass --force")  # fmt: skip
    if not yes and not typer.confirm(
        f"Delete {reciter.name} ({human_size(reciter.size)} in {reciter.directory})?"
    ):
        raise fail("Nothing removed")
    library.remove(reciter.slug)
    out.print(f"Removed {reciter.name}.")
