"""A picture of a message the real bot posted: docs/panel-arabic.png, the control panel in Arabic.

    .venv/bin/pip install -e ".[screenshots]"; apt-get install libfribidi0 fonts-dejavu-core
    .venv/bin/python tools/render_message.py docs/panel-arabic.png [--json panel.json]

It runs the sandbox and the real bot (unmodified discord.py) with the sample reciter on surah 18, the
server's language set to Arabic and a listener in the voice channel, waits for the panel the bot
posts, and draws that message's payload (as the sandbox recorded it) the way Discord lays out an
embed: a colour bar, the title, the description, fields (inline ones three to a row), the footer, then
the buttons and menus. Each line is shaped by Pillow's libraqm (HarfBuzz for the Arabic letters,
FriBiDi for the bidirectional order, isolates included) in DejaVu Sans (Arabic, Latin and the panel's
symbols in one font: Pillow does no font fallback), and laid out right to left when its first strong
letter is Arabic, as Discord's `dir="auto"` does. Emoji are drawn as simple marks (no colour emoji
font is installed). It is a faithful drawing of the strings the
bot sent, not a Discord client: what the test suite checks is those strings (tests/test_languages_discord.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont, features

from quranbot.audio.sample import write_sample_reciter
from quranbot.bot.runner import run_bot
from quranbot.bot.settings import BotSettings
from quranbot.paths import Paths
from quranbot.sandbox.server import Sandbox
from quranbot.secret import Secret
from quranbot.store.records import GuildPlayback, GuildSettings
from quranbot.store.state import StateStore

SURAH = 18
FONTS = Path("/usr/share/fonts/truetype/dejavu")
WIDTH, PAD = 760, 16
BACKGROUND, EMBED, TEXT, MUTED = (49, 51, 56), (43, 45, 49), (219, 222, 225), (181, 186, 193)
BUTTON, PRIMARY, SUCCESS = (78, 80, 88), (88, 101, 242), (36, 128, 70)
#: Emoji the panel uses, drawn as marks a text font has.
MARKS = {"🔘": "●", "⏮️": "◀◀", "⏸️": "❚❚", "▶️": "▶", "⏭️": "▶▶", "🔁": "↻", "🔀": "⇄", "🔎": "⚲"}


async def capture_panel(home: Path) -> dict[str, Any]:
    """The payload of the panel the bot posts in a server whose language is Arabic."""
    paths = Paths.under(home)
    write_sample_reciter(paths.audio_dir, seconds=20, surahs=range(SURAH, SURAH + 1))
    async with Sandbox(home / "sandbox") as sandbox:
        d = sandbox.default
        with StateStore(paths.state_dir, paths.backups_dir) as store:
            store.save_settings(
                GuildSettings(
                    d.guild.id, voice_channel_id=d.voice.id, panel_channel_id=d.panel.id, language="ar"
                )
            )
            store.set_playback(GuildPlayback(d.guild.id, surah=SURAH, loop=True))
        stop = asyncio.Event()
        settings = BotSettings(token=Secret(sandbox.token), timezone="UTC")
        bot = asyncio.create_task(
            run_bot(settings, paths, connector=sandbox.connector(), stop=stop, handle_signals=False)
        )
        try:
            await sandbox.wait_for_ready()
            await sandbox.join_voice(d.listener, d.voice)
            await asyncio.sleep(9)  # the panel posted, then redrawn with the listener and progress
            posted = [m for m in sandbox.messages(d.panel, include_ephemeral=False) if m.embeds]
            if not posted:
                raise SystemExit("the bot posted no panel")
            return dict(posted[-1].payload)
        finally:
            stop.set()
            await asyncio.wait_for(bot, 15)


# -- drawing ---------------------------------------------------------------------------------------------
def _marked(text: str) -> str:
    for emoji, mark in MARKS.items():
        text = text.replace(emoji, mark)
    return "".join(c for c in text if ord(c) < 0x1F000 and c != "\ufe0f")


def _rtl(text: str) -> bool:
    """Discord's dir="auto": the first strong letter decides."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


class Painter:
    def __init__(self) -> None:
        if not features.check("raqm"):
            raise SystemExit(
                "Pillow has no libraqm here: apt-get install libfribidi0 (Pillow's wheels load it)"
            )
        # One font for a whole line (Pillow does no fallback): DejaVu Sans has Arabic, Latin and the
        # panel's ▬ and ● alike.
        self.fonts = {
            (bold, size): ImageFont.truetype(
                str(FONTS / f"DejaVuSans{'-Bold' if bold else ''}.ttf"),
                size,
                layout_engine=ImageFont.Layout.RAQM,
            )
            for bold in (False, True)
            for size in (13, 15, 17)
        }
        self.image = Image.new("RGB", (WIDTH, 2000), BACKGROUND)
        self.draw = ImageDraw.Draw(self.image)

    def font(self, text: str, bold: bool, size: int) -> ImageFont.FreeTypeFont:
        return self.fonts[(bold, size)]

    def line(self, text: str, left: int, right: int, y: int, *, bold: bool = False, size: int = 15,
             fill: tuple[int, int, int] = TEXT) -> int:  # fmt: skip
        """One line (markdown's ** and ` dropped), right-aligned if it reads right to left; the next y."""
        shown = _marked(text).replace("**", "").replace("`", "").replace("*", "")
        font = self.font(shown, bold, size)
        rtl = _rtl(shown)
        direction = "rtl" if rtl else "ltr"
        width = self.draw.textlength(shown, font=font, direction=direction)
        x = right - width if rtl else left
        self.draw.text((x, y), shown, font=font, fill=fill, direction=direction)
        return y + size + 9

    def block(self, text: str, left: int, right: int, y: int, **style: Any) -> int:
        for part in text.split("\n"):
            y = self.line(part, left, right, y, **style) if part else y + 8
        return y

    def message(self, payload: dict[str, Any]) -> Image.Image:
        """The embed (a first pass on scratch only measures its height), then its components."""
        embed = payload["embeds"][0]
        bottom = self.embed_text(embed) + 6
        self.image = Image.new("RGB", (WIDTH, 2000), BACKGROUND)
        self.draw = ImageDraw.Draw(self.image)
        colour = embed.get("color", 0x57F287)
        self.draw.rectangle((PAD, PAD, WIDTH - PAD, bottom), fill=EMBED)
        self.draw.rectangle(
            (PAD, PAD, PAD + 4, bottom), fill=((colour >> 16) & 255, (colour >> 8) & 255, colour & 255)
        )
        self.embed_text(embed)
        return self.image.crop((0, 0, WIDTH, self.components(payload, bottom + 10) + PAD))

    def embed_text(self, embed: dict[str, Any]) -> int:
        """Title, description, fields (inline ones up to three a row, right to left in an Arabic
        message, as Discord lays them), footer; returns the y below them."""
        left, right, y = PAD + 14, WIDTH - PAD - 14, PAD + 12
        y = self.block(embed.get("title", ""), left, right, y, bold=True, size=17)
        y = self.block(embed.get("description", ""), left, right, y + 4)
        fields = embed.get("fields", [])
        index = 0
        while index < len(fields):
            row = [fields[index]]
            index += 1
            while (
                row[0].get("inline") and len(row) < 3 and index < len(fields) and fields[index].get("inline")
            ):
                row.append(fields[index])
                index += 1
            width = (right - left) // len(row)
            bottom = y
            rtl = _rtl(row[0]["name"])
            for column, field in enumerate(row):
                slot = len(row) - 1 - column if rtl else column
                c_left, c_right = left + slot * width, left + (slot + 1) * width - 8
                end = self.line(field["name"], c_left, c_right, y + 6, bold=True, size=13)
                bottom = max(bottom, self.block(field["value"], c_left, c_right, end, size=15))
            y = bottom
        return self.block(embed.get("footer", {}).get("text", ""), left, right, y + 8, size=13, fill=MUTED)

    def components(self, payload: dict[str, Any], y: int) -> int:
        for row in payload.get("components", []):
            items = row.get("components", [])
            x = WIDTH - PAD  # buttons run right to left under an Arabic message
            for item in items:
                if item.get("type") == 2:
                    emoji = item.get("emoji", {}).get("name", "")
                    label = f"{_marked(emoji)} {item.get('label', '')}".strip()
                    font = self.font(label, False, 15)
                    width = (
                        int(self.draw.textlength(label, font=font, direction="rtl" if _rtl(label) else "ltr"))
                        + 28
                    )
                    style = {1: PRIMARY, 3: SUCCESS}.get(item.get("style", 2), BUTTON)
                    self.draw.rounded_rectangle((x - width, y, x, y + 34), 4, fill=style)
                    self.line(label, x - width + 14, x - 14, y + 6)
                    x -= width + 8
                else:  # a select menu: its placeholder (or chosen option), full width
                    chosen = next((o["label"] for o in item.get("options", []) if o.get("default")), None)
                    text = chosen or item.get("placeholder", "")
                    self.draw.rounded_rectangle((PAD, y, WIDTH - PAD, y + 38), 4, fill=(30, 31, 34))
                    self.line(text, PAD + 12, WIDTH - PAD - 12, y + 8, fill=MUTED)
            y += 46
        return y


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--json", type=Path, help="also save (or, if it exists, reuse) the captured payload")
    args = parser.parse_args(argv)
    if args.json and args.json.exists():
        payload = json.loads(args.json.read_text())
    else:
        with tempfile.TemporaryDirectory() as home:
            payload = asyncio.run(capture_panel(Path(home)))
        if args.json:
            args.json.write_text(json.dumps(payload, ensure_ascii=False, indent=1))
    Painter().message(payload).save(args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
