"""The `quranbot` command line (Typer + Rich)."""
