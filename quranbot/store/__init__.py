"""The bot's state on disk: TinyDB files written atomically, one writer, typed records, migrations."""
