"""Alerts: what reaches the admin's Discord when something goes wrong (or happens) in the bot.

Nothing here imports discord.py: the records, the logging handler and its bounded queue, the message
layout within Discord's limits, the webhook destination (plain aiohttp) and the sender that batches and
obeys rate limits. The bot adapts it (quranbot/bot/alerting.py), so the audio engine and the store only
ever log.
"""
