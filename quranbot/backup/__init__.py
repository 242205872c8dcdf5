"""Backups of the state directory: verified archives, retention, the scheduled job and restore."""
