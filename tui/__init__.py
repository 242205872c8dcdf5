"""The Textual terminal UI (`quranbot tui`): watch and steer the running bot over its control socket.

app.py (the App and `run_tui`) → main_screen.py (the one screen, its keys) → widgets: link_bar.py,
guild_tabs.py, now_playing.py, control_bar.py, stats_pane.py, log_pane.py, pickers.py.
connection.py keeps the reconnecting connection; records.py parses what the bot sends; playhead.py
draws the progress; arabic.py decides how Arabic reaches the terminal (and says why).
"""
