"""The Textual terminal UI (`quranbot tui`), which talks to the bot over its control socket.

The TUI itself arrives with the control socket (issue 6); this package reserves its place in the layout.
"""
