"""The world a fresh sandbox starts with: one bot application and one guild with the usual channels.

Tests and the demo script this guild; they can add more guilds, channels and members through `World`.
"""

from __future__ import annotations

from dataclasses import dataclass

from quranbot.sandbox.model import Application, Channel, ChannelType, Guild, Member, Permission, Role
from quranbot.sandbox.world import World

BOT_PERMISSIONS = (
    Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.EMBED_LINKS
    | Permission.READ_MESSAGE_HISTORY
    | Permission.ADD_REACTIONS
    | Permission.MANAGE_MESSAGES
    | Permission.MANAGE_ROLES
    | Permission.CONNECT
    | Permission.SPEAK
    | Permission.USE_VAD
)


@dataclass(frozen=True)
class DefaultGuild:
    """Handles to the default guild's parts, by the names a test talks about."""

    application: Application
    guild: Guild
    general: Channel
    panel: Channel
    voice: Channel
    lounge: Channel
    admin_role: Role
    controller_role: Role
    admin: Member
    listener: Member
    bot: Member


def populate_default(world: World, token: str | None = None) -> DefaultGuild:
    application = world.add_application("QuranBot", token=token)
    return add_guild_with_bot(world, application, "Sandbox Guild")


def add_guild_with_bot(
    world: World, application: Application, name: str, *, shard: tuple[int, int] | None = None
) -> DefaultGuild:
    """A guild like the default one (its admin, a listener, the bot with its role, the usual channels),
    for tests and the soak that run the bot in several guilds. Add it before the bot connects, or it
    arrives like a guild the bot was invited to. `shard=(id, count)`: a guild that shard owns."""
    owner = world.new_user("admin")
    guild = world.add_guild(name, owner, shard=shard)
    admin_role = world.add_role(guild, "Admin", Permission.ADMINISTRATOR)
    controller_role = world.add_role(guild, "Quran Controller")
    bot_role = world.add_role(guild, "QuranBot", BOT_PERMISSIONS)
    guild.members[owner.id].roles.append(admin_role.id)
    listener = Member(user=world.new_user("listener"))
    guild.members[listener.user.id] = listener
    bot = Member(user=application.bot, roles=[bot_role.id])
    guild.members[application.bot.id] = bot
    return DefaultGuild(
        application=application,
        guild=guild,
        general=world.add_channel(guild, "general"),
        panel=world.add_channel(guild, "quran-panel"),
        voice=world.add_channel(guild, "Quran", ChannelType.VOICE),
        lounge=world.add_channel(guild, "Lounge", ChannelType.VOICE),
        admin_role=admin_role,
        controller_role=controller_role,
        admin=guild.members[owner.id],
        listener=listener,
        bot=bot,
    )
