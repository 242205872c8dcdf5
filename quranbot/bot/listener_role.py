"""The listener role: given to members while they listen (after a delay, if configured), taken back when
they leave, and reconciled whenever the guild is synced, so a member who left while the bot was down
loses it at the next start.

Who holds it because of the bot is remembered in the store, not read from Discord: the bot runs
without the privileged members intent, so it cannot list a role's members, and it must never take a
role from someone an admin gave it to by hand.

A missing Manage Roles permission, or a role above the bot's highest, is checked before each change
(each refused request counts against Discord's invalid-request limit) and reported once, until fixed.
"""

from __future__ import annotations

import asyncio
import logging

import discord

from quranbot.store.state import StateStore

log = logging.getLogger(__name__)

REASON = "QuranBot listener role"


class ListenerRoles:
    def __init__(self, store: StateStore, after_seconds: float = 0.0) -> None:
        self.store = store
        self.after_seconds = after_seconds
        #: The problem last reported per guild (None: none), so each is said once.
        self.problems: dict[int, str] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def problem(self, guild: discord.Guild, role_id: int) -> str | None:
        """Why the bot cannot manage this role here, in words an admin can act on; None if it can."""
        role = guild.get_role(role_id)
        if role is None:
            return (
                f"The listener role {role_id} does not exist in {guild.name}: set another with "
                "/setup listener_role (or remove listener_role from config.toml)"
            )
        me = guild.me
        if me is None:
            return None  # not connected yet: the next sync checks again
        if not me.guild_permissions.manage_roles:
            return (
                f"QuranBot cannot give the listener role @{role.name} in {guild.name}: it lacks the "
                "Manage Roles permission (give it to QuranBot's role in Server Settings → Roles)"
            )
        if role >= me.top_role or role.managed or role.is_default():
            return (
                f"QuranBot cannot give the listener role @{role.name} in {guild.name}: it is not below "
                f"QuranBot's highest role @{me.top_role.name} (drag QuranBot's role above it in Server "
                "Settings → Roles)"
            )
        return None

    def _report(self, guild: discord.Guild, problem: str | None) -> None:
        if problem is None:
            if self.problems.pop(guild.id, None) is not None:
                log.info("The listener role works again in %s", guild.name)
            return
        if self.problems.get(guild.id) != problem:
            self.problems[guild.id] = problem
            log.error("%s", problem)

    async def sync(self, guild: discord.Guild, present_since: dict[int, float], now: float) -> None:
        """Make the role's holders (as far as the bot gave it) exactly the members listening long enough."""
        lock = self._locks.setdefault(guild.id, asyncio.Lock())
        async with lock:
            await self._sync(guild, present_since, now)

    async def _sync(self, guild: discord.Guild, present_since: dict[int, float], now: float) -> None:
        role_id = self.store.settings(guild.id).listener_role_id
        held_role, holders = self.store.listener_role_holders(guild.id)
        if held_role is not None and held_role != role_id:
            # The role was changed (or removed): the old one goes from everyone the bot gave it to.
            holders -= await self._change(guild, held_role, holders, add=False, check=False)
        if role_id is None:
            if held_role is not None:
                self.store.save_listener_role_holders(guild.id, None, set())
            self.problems.pop(guild.id, None)
            return
        wanted = {user for user, since in present_since.items() if now - since >= self.after_seconds}
        problem = self.problem(guild, role_id)
        self._report(guild, problem)
        if problem is not None:
            return
        given = await self._change(guild, role_id, wanted - holders, add=True)
        taken = await self._change(guild, role_id, holders - wanted, add=False)
        holders = (holders | given) - taken
        if held_role != role_id or given or taken:
            self.store.save_listener_role_holders(guild.id, role_id, holders)

    async def _change(
        self, guild: discord.Guild, role_id: int, users: set[int], *, add: bool, check: bool = True
    ) -> set[int]:
        """Give or take the role; the users it was done for (or who are gone, for a removal)."""
        done: set[int] = set()
        role = discord.Object(role_id)
        for user_id in sorted(users):
            try:
                member = guild.get_member(user_id) or await guild.fetch_member(user_id)
                if add:
                    await member.add_roles(role, reason=REASON)
                else:
                    await member.remove_roles(role, reason=REASON)
            except discord.NotFound:
                if not add:
                    done.add(user_id)  # they left the guild (or the role is gone): nothing to take back
                continue
            except discord.Forbidden:
                if check:
                    self._report(guild, self.problem(guild, role_id) or self._refused(guild, role_id))
                return done
            except discord.HTTPException as exc:
                log.warning("Could not change the listener role of %s in %s: %s", user_id, guild.name, exc)
                continue
            done.add(user_id)
        return done

    @staticmethod
    def _refused(guild: discord.Guild, role_id: int) -> str:
        return (
            f"Discord refused to change the listener role {role_id} in {guild.name} (403 Missing Permissions)"
        )
