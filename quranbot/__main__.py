"""`python -m quranbot` runs the same CLI as the `quranbot` command."""

from quranbot.cli.app import main

main()
