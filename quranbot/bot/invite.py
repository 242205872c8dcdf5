"""The link that adds the bot to a server with exactly the permissions its code uses, nothing broader.

What each is for: View Channel (see the voice and panel channels), Connect and Speak (recite), Send
Messages and Embed Links (post the control panel, an embed with buttons), Read Message History (the
panel is one long-lived message in the channel's history). Editing or deleting its own panel message,
answering slash commands and components, and setting its presence need no permission. Deafening itself
needs none either, so no voice moderation permission is asked for.
"""

from __future__ import annotations

import discord

SCOPES = ("bot", "applications.commands")


def bot_permissions() -> discord.Permissions:
    return discord.Permissions(
        view_channel=True,
        send_messages=True,
        embed_links=True,
        read_message_history=True,
        connect=True,
        speak=True,
    )


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(application_id, permissions=bot_permissions(), scopes=SCOPES)
