"""Listening statistics without Discord: how time is counted, khatms, achievements, leaderboards, figures.

The bot feeds these rules what it sees in the voice channel; the CLI and the TUI read the same figures.
"""
