"""The message catalogs' chores, with Babel: extract the messages from the source, merge them into each
language's `.po`, compile the `.mo` the bot reads. Run from the repository:

    .venv/bin/python tools/catalog.py extract   # quranbot/i18n/locales/quranbot.pot from the source
    .venv/bin/python tools/catalog.py update    # merge it into every locales/<lang>/LC_MESSAGES/quranbot.po
    .venv/bin/python tools/catalog.py compile   # each .po -> .mo (committed: the bot needs no Babel)
    .venv/bin/python tools/catalog.py check     # what tests/test_translations.py holds, as a report

What counts as a message is a string literal in one of these calls (see docs/TRANSLATING.md):
`text.t("...")` (a `Messages`), `N_("...")` (a constant said later), `Phrase.of("...")` and
`catalogs.translate(language, "...")`. A message in a variable is not extracted: mark its literal N_.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "quranbot" / "i18n" / "locales"
TEMPLATE = LOCALES / "quranbot.pot"
#: Babel keyword specs: the function name, and which argument is the message.
KEYWORDS: dict[str, tuple[int, ...] | None] = {"t": None, "N_": None, "of": None, "translate": (2,)}
#: Only the bot's code speaks to members; the CLI and the TUI stay in English.
SOURCES = ("quranbot",)
#: Catalog packages the extraction skips: the sandbox and the soak are test tools, not the bot.
SKIPPED = ("quranbot/sandbox/", "quranbot/soak/")


def extract_template() -> Catalog:
    """Every message of the source, with where it is used (file:line)."""
    template = Catalog(project="QuranBot", fuzzy=False)
    for source in SOURCES:
        found = extract_from_dir(
            ROOT / source, method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
        )
        for filename, lineno, message, comments, context in found:
            path = f"{source}/{filename}"
            if path.startswith(SKIPPED):
                continue
            template.add(message, None, [(path, lineno)], auto_comments=comments, context=context)
    return template


def languages() -> list[str]:
    return sorted(p.name for p in LOCALES.iterdir() if (p / "LC_MESSAGES" / "quranbot.po").exists())


def po_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / "quranbot.po"


def read_catalog(language: str) -> Catalog:
    with po_path(language).open("rb") as file:
        return read_po(file, locale=language)


def compiled(catalog: Catalog) -> bytes:
    """The `.mo` of a catalog, as `compile` writes it (fuzzy entries left out, as gettext does)."""
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def _write_po(path: Path, catalog: Catalog) -> None:
    out = io.BytesIO()
    write_po(out, catalog, width=110, sort_by_file=False, omit_header=False)
    path.write_bytes(out.getvalue())


def extract() -> None:
    _write_po(TEMPLATE, extract_template())
    print(f"wrote {TEMPLATE.relative_to(ROOT)}")


def update() -> None:
    template = extract_template()
    for language in languages():
        catalog = read_catalog(language)
        catalog.update(template, no_fuzzy_matching=True)
        _write_po(po_path(language), catalog)
        print(f"updated {po_path(language).relative_to(ROOT)}")


def compile_all() -> None:
    for language in languages():
        mo = po_path(language).with_suffix(".mo")
        mo.write_bytes(compiled(read_catalog(language)))
        print(f"wrote {mo.relative_to(ROOT)}")


def check() -> int:
    """Messages of the source missing (or fuzzy, or empty) in a catalog; exit 1 if any."""
    template = extract_template()
    problems = 0
    for language in languages():
        catalog = read_catalog(language)
        for message in template:
            if not message.id:
                continue
            entry = catalog.get(message.id)
            if entry is None or not entry.string or entry.fuzzy:
                problems += 1
                where = ", ".join(f"{f}:{n}" for f, n in message.locations)
                print(f"{language}: not translated: {message.id!r} ({where})")
    return 1 if problems else 0


def main(argv: list[str]) -> int:
    commands = {"extract": extract, "update": update, "compile": compile_all}
    if len(argv) == 1 and argv[0] == "check":
        return check()
    if len(argv) != 1 or argv[0] not in commands:
        print(__doc__)
        return 2
    commands[argv[0]]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
