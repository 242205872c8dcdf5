"""A local stand-in for Discord that speaks its real wire protocol on loopback.

The real bot, with unmodified discord.py, connects to it through `sandbox_connector`; tests and the demo
drive it through `Sandbox` and listen to what the bot sends to voice through `ChannelListener`.
"""
