"""The sandbox's incoming webhooks, spoken to over HTTPS as any client would (aiohttp through the sandbox
connector): Discord's execute endpoint, its rate-limit headers and 429s, its refusals, its message
limits, and who a message pings."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from quranbot.sandbox.model import Webhook
from quranbot.sandbox.server import Sandbox

EMBED = {"title": "t", "description": "d"}


async def execute(
    http: aiohttp.ClientSession, url: str, body: dict[str, object], wait: bool = True
) -> tuple[int, dict[str, str], object]:
    params = {"wait": "true"} if wait else {}
    async with http.post(url, json=body, params=params) as response:
        data = await response.json() if response.status != 204 else None
        return response.status, dict(response.headers), data


async def test_a_webhook_posts_in_its_channel_with_rate_limit_headers(sandbox: Sandbox) -> None:
    channel = sandbox.default.general
    hook = await sandbox.create_webhook(channel, "Alerts")
    assert hook.url.startswith(f"https://discord.com/api/webhooks/{hook.id}/") and len(hook.token) == 68
    async with aiohttp.ClientSession(connector=sandbox.connector()) as http:
        status, headers, data = await execute(http, hook.url, {"content": "hello", "embeds": [EMBED]})
        assert status == 200 and headers["Content-Type"] == "application/json"
        assert isinstance(data, dict)
        assert data["webhook_id"] == str(hook.id) and data["author"]["id"] == str(hook.id)
        assert data["author"]["username"] == "Alerts" and data["content"] == "hello"
        assert headers["X-RateLimit-Limit"] == "5" and headers["X-RateLimit-Remaining"] == "4"
        assert 0 < float(headers["X-RateLimit-Reset-After"]) <= 2.0
        assert abs(float(headers["X-RateLimit-Reset"]) - time.time() - 2.0) < 0.5
        bucket = headers["X-RateLimit-Bucket"]

        status, headers, data = await execute(http, hook.url, {"content": "no wait"}, wait=False)
        assert status == 204 and data is None and headers["X-RateLimit-Remaining"] == "3"
        assert headers["X-RateLimit-Bucket"] == bucket

    posted = sandbox.messages(channel)
    assert [m.content for m in posted] == ["hello", "no wait"]
    assert all(m.payload["webhook_id"] == str(hook.id) for m in posted)
    assert posted[0].embeds == [EMBED]


async def test_a_sixth_request_in_two_seconds_is_answered_429_until_the_bucket_refills(
    sandbox: Sandbox,
) -> None:
    hook = await sandbox.create_webhook(sandbox.default.general)
    other = await sandbox.create_webhook(sandbox.default.panel)
    async with aiohttp.ClientSession(connector=sandbox.connector()) as http:
        answers = [await execute(http, hook.url, {"content": f"{n}"}) for n in range(6)]
        assert [status for status, _, _ in answers] == [200] * 5 + [429]
        assert [h["X-RateLimit-Remaining"] for _, h, _ in answers[:5]] == ["4", "3", "2", "1", "0"]
        _, headers, body = answers[5]
        assert isinstance(body, dict) and body["message"] == "You are being rate limited."
        assert body["global"] is False and 0 < body["retry_after"] <= 2.0
        assert headers["Retry-After"] == "2" and headers["X-RateLimit-Scope"] == "user"
        # the bucket is per webhook: another one is not limited
        assert (await execute(http, other.url, {"content": "other"}))[0] == 200
        await asyncio.sleep(float(answers[4][1]["X-RateLimit-Reset-After"]) + 0.05)
        status, headers, _ = await execute(http, hook.url, {"content": "after the reset"})
        assert status == 200 and headers["X-RateLimit-Remaining"] == "4"
    assert [m.content for m in sandbox.messages(sandbox.default.general)] == [
        "0", "1", "2", "3", "4", "after the reset"
    ]  # fmt: skip
    assert sandbox.rest.webhook_buckets[hook.id].refused == 1


async def test_wrong_token_deleted_webhook_and_limits_are_refused_as_discord_does(sandbox: Sandbox) -> None:
    hook = await sandbox.create_webhook(sandbox.default.general)
    wrong = hook.url[:-4] + ("aaaa" if not hook.url.endswith("aaaa") else "bbbb")
    async with aiohttp.ClientSession(connector=sandbox.connector()) as http:
        status, _, body = await execute(http, wrong, {"content": "x"})
        assert (status, body) == (401, {"message": "Invalid Webhook Token", "code": 50027})
        status, _, body = await execute(http, hook.url, {"content": ""})
        assert status == 400 and isinstance(body, dict) and body["code"] == 50006
        status, _, body = await execute(http, hook.url, {"embeds": [EMBED] * 11})
        assert status == 400 and isinstance(body, dict) and body["code"] == 50035
        long = {"title": "t", "description": "x" * 4097}
        status, _, body = await execute(http, hook.url, {"embeds": [long]})
        assert status == 400 and isinstance(body, dict) and "embeds" in body["errors"]
        await sandbox.delete_webhook(hook)
        status, _, body = await execute(http, hook.url, {"content": "after delete"})
        assert (status, body) == (404, {"message": "Unknown Webhook", "code": 10015})
        status, _, body = await execute(http, f"https://discord.com/api/webhooks/1234/{hook.token}", {"c": 1})
        assert status == 404 and isinstance(body, dict) and body["code"] == 10015
    assert sandbox.messages(sandbox.default.general) == []
    assert hook.requests == 5  # the unknown id is no webhook's request
    assert isinstance(sandbox.world.webhooks[hook.id], Webhook) and sandbox.world.webhooks[hook.id].deleted


async def test_only_the_mentions_allowed_ping(sandbox: Sandbox) -> None:
    default = sandbox.default
    hook = await sandbox.create_webhook(default.general)
    admin, listener, role = default.admin.user.id, default.listener.user.id, default.controller_role.id
    text = f"<@{admin}> <@{listener}> <@&{role}> @everyone"
    async with aiohttp.ClientSession(connector=sandbox.connector()) as http:
        await execute(http, hook.url, {"content": text})
        allowed = {"parse": [], "users": [str(admin)], "roles": []}
        await execute(http, hook.url, {"content": text, "allowed_mentions": allowed})
    free, careful = sandbox.messages(default.general)
    assert {u["id"] for u in free.payload["mentions"]} == {str(admin), str(listener)}
    assert free.payload["mention_roles"] == [str(role)] and free.payload["mention_everyone"] is True
    assert [u["id"] for u in careful.payload["mentions"]] == [str(admin)]
    assert careful.payload["mention_roles"] == [] and careful.payload["mention_everyone"] is False
