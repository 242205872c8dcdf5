"""The soak: the real bot, as a service, on the sandbox, under a fault every few seconds.

`quranbot soak --minutes N` and tests/soak run it: two guilds with listeners, a fault drawn at random
every few seconds (quranbot/soak/faults.py), the time each took to recover, and at the end what the
files and the process show: positions, state files, listening seconds, the log, memory and descriptors
(quranbot/soak/checks.py). The bot runs under `Supervisor`, a stand-in for systemd's restart and
watchdog (supervisor.py), so SIGKILL and SIGSTOP are faults like any other.
"""
