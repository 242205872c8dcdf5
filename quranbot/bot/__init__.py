"""The Discord side of QuranBot: the discord.py client and its command cogs."""
