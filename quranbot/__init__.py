"""QuranBot: a self-hosted Discord appliance that recites the Quran around the clock."""

__version__ = "0.1.0"
