"""The control socket: a local Unix socket through which the CLI and the TUI see and steer the bot."""
