"""The questions of `quranbot setup`, in order: token, (invite link), servers, reciter, time zone, backups,
pausing, alerts (whom they ping, the webhook they go to). Each offers what is configured now as its default,
so re-running the wizard and pressing Enter throughout changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rich.markup import escape

from quranbot.alerts.webhook_url import WebhookUrlError, check_webhook_url, masked_webhook
from quranbot.audio.library import Library
from quranbot.bot.invite import invite_url
from quranbot.cli.ask import ask, yes_no
from quranbot.cli.output import out
from quranbot.config.rules import (
    BadValue,
    backup_minutes,
    discord_id,
    imported_reciter,
    optional,
    timezone_name,
)
from quranbot.config.schema import Config, GuildConfig
from quranbot.config.timezones import system_timezone
from quranbot.config.token import application_id, check_token, masked
from quranbot.secret import Secret

NONE = "none"


@dataclass(frozen=True)
class Answers:
    token: Secret
    config: Config
    #: The alerts webhook's URL; None: none (alerts go to a channel, if one is set).
    webhook: Secret | None = None


def _default(value: int | str | None) -> str:
    return NONE if value is None else str(value)


def _field(guild: GuildConfig | None, name: str) -> str | None:
    """An existing server's id as a default answer ("none" if unset); None (no default) for a new one."""
    return None if guild is None else _default(getattr(guild, name))


def print_invite(token: Secret) -> None:
    out.print(
        "Invite the bot to your server with this link (it asks for exactly the permissions QuranBot uses):"
    )
    out.print(escape(invite_url(application_id(token))), soft_wrap=True, highlight=False)


def ask_token(current: Secret | None) -> Secret:
    out.print(
        "[bold]Bot token[/] (Developer Portal → your application → Bot → Reset Token; typing is hidden)"
    )
    if current is None:
        return ask("Token", check_token, hidden=True)

    def keep_or_check(answer: str) -> Secret:
        return current if answer == "" else check_token(answer)

    return ask(f"Token (Enter keeps {escape(masked(current))})", keep_or_check, default="", hidden=True)


def ask_guild(existing: GuildConfig | None, taken: set[int]) -> GuildConfig | None:
    """One server's ids; None when the admin skips (a new one) or removes (an existing one) it."""

    def guild_id(answer: str) -> int | None:
        value = optional(discord_id)(answer)
        if value in taken:
            raise BadValue(f"{value} is already configured above")
        return value

    hint = "none removes it" if existing else "Enter skips: choose channels later with /setup in Discord"
    chosen = ask(f"Server (guild) id ({hint})", guild_id, _field(existing, "id") or NONE)
    if chosen is None:
        return None
    voice = ask("  Voice channel id", discord_id, _field(existing, "voice_channel"))
    panel = ask(
        "  Panel channel id, for the control panel",
        optional(discord_id),
        _field(existing, "panel_channel") or NONE,
    )
    role = ask(
        "  Controller role id (none: every member may steer)",
        optional(discord_id),
        _field(existing, "controller_role") or NONE,
    )
    return GuildConfig(chosen, voice, panel, role)


def ask_guilds(current: tuple[GuildConfig, ...]) -> tuple[GuildConfig, ...]:
    out.print(
        "[bold]Servers[/]: one voice channel each. With Developer Mode on (Discord settings → Advanced), "
        "right-click a server, channel or role → Copy ID.",
        soft_wrap=True,
    )
    guilds: list[GuildConfig] = []
    for existing in current:
        kept = ask_guild(existing, {g.id for g in guilds})
        if kept is not None:
            guilds.append(kept)
    if not guilds:
        first = ask_guild(None, set())
        if first is None:
            return ()
        guilds.append(first)
    while yes_no("Add another server?", default=False):
        added = ask_guild(None, {g.id for g in guilds})
        if added is not None:
            guilds.append(added)
    return tuple(guilds)


def ask_reciter(current: str | None, library: Library) -> str | None:
    reciters = library.reciters()
    if not reciters:
        out.print(
            "[bold]Reciter[/]: none is imported yet (`quranbot reciter import SOURCE`); the bot recites the "
            "first one imported.",
            soft_wrap=True,
        )
        return current
    listed = ", ".join(f"{r.slug} ({r.name})" for r in reciters)
    out.print(f"[bold]Reciter[/]: imported: {escape(listed)}", soft_wrap=True)
    return ask(
        "Default reciter (its folder or name; none: the first imported)",
        optional(lambda answer: imported_reciter(answer, library)),
        current or reciters[0].slug,
    )


def ask_webhook(current: Secret | None) -> Secret | None:
    """The alerts webhook's URL, typed hidden (it is a secret like the token); Enter keeps the current."""
    out.print(
        "[bold]Alerts webhook[/] (optional; Server Settings → Integrations → Webhooks → New Webhook → "
        "Copy Webhook URL; typing is hidden)",
        soft_wrap=True,
    )

    def check(answer: str) -> Secret | None:
        if answer.strip() == "":
            return current
        if answer.strip().lower() == NONE:
            return None
        try:
            return check_webhook_url(answer)
        except WebhookUrlError as exc:
            raise BadValue(str(exc)) from None

    hint = f"Enter keeps {escape(masked_webhook(current))}, none removes it" if current else "Enter: none"
    return ask(f"Webhook URL ({hint})", check, default="", hidden=True)


def run_wizard(
    start: Config, token: Secret | None, library: Library, webhook: Secret | None = None
) -> Answers:
    """Every question, with `start` (config.toml and any options given) as the defaults."""
    chosen_token = ask_token(token)
    print_invite(chosen_token)
    guilds = ask_guilds(start.guilds)
    reciter = ask_reciter(start.reciter, library)
    timezone = ask(
        "Time zone (an IANA name such as Europe/London)", timezone_name, start.timezone or system_timezone()
    )
    minutes = ask("Minutes between backups of the state", backup_minutes, str(start.backup_interval_minutes))
    pause = yes_no("Pause while nobody is in the voice channel (saves CPU)?", default=start.pause_when_empty)
    admin = ask(
        "Your Discord user id, pinged by error alerts (none: nobody)",
        optional(discord_id),
        _default(start.admin_user),
    )
    chosen_webhook = ask_webhook(webhook)
    config = replace(
        start,
        guilds=guilds,
        reciter=reciter,
        timezone=timezone,
        backup_interval_minutes=minutes,
        pause_when_empty=pause,
        admin_user=admin,
    )
    return Answers(chosen_token, config, chosen_webhook)
