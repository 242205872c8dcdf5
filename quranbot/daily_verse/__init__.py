"""The daily verse, free of Discord: which ayah a guild gets next (`pool.py`) and when its post is due on
the guild's clock (`timing.py`). The bot's `quranbot/bot/daily_verse.py` schedules and posts it."""
