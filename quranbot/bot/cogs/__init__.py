"""Feature cogs: thin, one concern each; they parse, check permission and call into the core."""
