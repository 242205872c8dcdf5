"""config.toml: what the admin chose with `quranbot setup` (servers, reciter, time zone, backups, alerts).

The token is not part of it: it lives in its own 0600 file beside config.toml (see `token.py`).
"""
