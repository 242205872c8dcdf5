"""The settings as a table of dotted keys and values: `config show` and the setup wizard's summary.

The keys are the ones `config set` takes, so what the admin reads is what they can type back.
"""

from __future__ import annotations

from rich import box
from rich.markup import escape
from rich.table import Table

from quranbot.config.keys import flat_items
from quranbot.config.rules import shown
from quranbot.config.schema import Config


def config_table(config: Config, token: str | None = None, webhook: str | None = None) -> Table:
    """`token` and `webhook` are already masked: this table never sees a Secret."""
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("key")
    table.add_column("value", overflow="fold")
    if token is not None:
        table.add_row("token", escape(token))
    if webhook is not None:
        table.add_row("alerts webhook", escape(webhook))
    for setting, key, value in flat_items(config):
        table.add_row(key, escape(f"({setting.unset})" if value is None else shown(value)))
    if not config.guilds:
        table.add_row("guilds", "(none: the bot recites where /setup in Discord or --voice-channel says)")
    return table
