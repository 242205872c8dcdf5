"""The audit trail: who did what, where, when, and with what result, written to a bounded, rotated file.

No Discord in here: the bot, the control socket and the scheduler build `AuditRecord`s and hand them to
the `AuditLog`; `quranbot audit` and the TUI read them back.
"""
