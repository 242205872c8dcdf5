"""Where QuranBot keeps its files: one object resolves every path, for a server or for a home directory.

On a server (no home given) the FHS locations are used; with `--home DIR` or `QURANBOT_HOME` everything
lives under one directory, so tests and the demo never touch system paths.

A shard process (docs/SCALING.md) keeps its guilds' state and its control socket in directories of its
own, `STATE/shard-N/` and `RUNTIME/shard-N/`, while the machine's audio library, quiz banks and sandbox
stay shared at the roots. Unsharded (`shard` None) every path is what it always was.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

HOME_ENV = "QURANBOT_HOME"
SHARD_PREFIX = "shard-"
_SHARD_DIR = re.compile(r"shard-(0|[1-9][0-9]*)")


def shard_dir_name(shard: int) -> str:
    return f"{SHARD_PREFIX}{shard}"


def shard_of_dir(name: str) -> int | None:
    """The shard a directory named `shard-N` belongs to; None for any other name."""
    match = _SHARD_DIR.fullmatch(name)
    return None if match is None else int(match.group(1))


@dataclass(frozen=True)
class Paths:
    """The directories and files QuranBot reads and writes."""

    config_dir: Path
    #: The machine's state: the audio library, quiz banks, and the state itself when unsharded.
    state_root: Path
    #: The machine's runtime directory: the control socket when unsharded, the sandbox's address.
    runtime_root: Path
    #: The gateway shard this process runs; None: unsharded.
    shard: int | None = None

    @classmethod
    def system(cls) -> Paths:
        """The locations of a system install (see systemd/ and install.sh)."""
        return cls(
            config_dir=Path("/etc/quranbot"),
            state_root=Path("/var/lib/quranbot"),
            runtime_root=Path("/run/quranbot"),
        )

    @classmethod
    def under(cls, home: Path) -> Paths:
        """Everything under one directory: `config/`, `state/`, `run/`."""
        home = home.expanduser().absolute()
        return cls(config_dir=home / "config", state_root=home / "state", runtime_root=home / "run")

    @classmethod
    def resolve(cls, home: Path | None = None) -> Paths:
        """`home` if given, else `$QURANBOT_HOME` if set, else the system locations."""
        if home is not None:
            return cls.under(home)
        env = os.environ.get(HOME_ENV)
        if env:
            return cls.under(Path(env))
        return cls.system()

    def for_shard(self, shard: int | None) -> Paths:
        """The same machine's paths, for one shard process (None: unsharded)."""
        return replace(self, shard=shard)

    @property
    def state_dir(self) -> Path:
        """This process's guild state: the state files, `state.lock`, the audit trail and backups."""
        return self.state_root if self.shard is None else self.state_root / shard_dir_name(self.shard)

    @property
    def runtime_dir(self) -> Path:
        """This process's runtime directory (its control socket)."""
        return self.runtime_root if self.shard is None else self.runtime_root / shard_dir_name(self.shard)

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def token_file(self) -> Path:
        return self.config_dir / "token"

    @property
    def alerts_webhook_file(self) -> Path:
        """The alerts webhook's URL, a secret like the token: one line, 0600, beside it."""
        return self.config_dir / "alerts-webhook"

    @property
    def audio_dir(self) -> Path:
        """Shared by every shard on the machine (each machine needs its own copy)."""
        return self.state_root / "audio"

    @property
    def backups_dir(self) -> Path:
        return self.state_dir / "backups"

    @property
    def quiz_banks_dir(self) -> Path:
        """Curated quiz banks imported with `quranbot quiz import` (validated copies, read by the bot)."""
        return self.state_root / "quiz-banks"

    @property
    def control_socket(self) -> Path:
        return self.runtime_dir / "control.sock"

    @property
    def sandbox_dir(self) -> Path:
        """The sandbox's certificate and address, so a bot in another process can find it."""
        return self.runtime_root / "sandbox"
