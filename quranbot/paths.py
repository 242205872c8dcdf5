"""Where QuranBot keeps its files: one object resolves every path, for a server or for a home directory.

On a server (no home given) the FHS locations are used; with `--home DIR` or `QURANBOT_HOME` everything
lives under one directory, so tests and the demo never touch system paths.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "QURANBOT_HOME"


@dataclass(frozen=True)
class Paths:
    """The directories and files QuranBot reads and writes."""

    config_dir: Path
    state_dir: Path
    runtime_dir: Path

    @classmethod
    def system(cls) -> Paths:
        """The locations of a system install (see systemd/ and install.sh)."""
        return cls(
            config_dir=Path("/etc/quranbot"),
            state_dir=Path("/var/lib/quranbot"),
            runtime_dir=Path("/run/quranbot"),
        )

    @classmethod
    def under(cls, home: Path) -> Paths:
        """Everything under one directory: `config/`, `state/`, `run/`."""
        home = home.expanduser().absolute()
        return cls(config_dir=home / "config", state_dir=home / "state", runtime_dir=home / "run")

    @classmethod
    def resolve(cls, home: Path | None = None) -> Paths:
        """`home` if given, else `$QURANBOT_HOME` if set, else the system locations."""
        if home is not None:
            return cls.under(home)
        env = os.environ.get(HOME_ENV)
        if env:
            return cls.under(Path(env))
        return cls.system()

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
        return self.state_dir / "audio"

    @property
    def backups_dir(self) -> Path:
        return self.state_dir / "backups"

    @property
    def quiz_banks_dir(self) -> Path:
        """Curated quiz banks imported with `quranbot quiz import` (validated copies, read by the bot)."""
        return self.state_dir / "quiz-banks"

    @property
    def control_socket(self) -> Path:
        return self.runtime_dir / "control.sock"

    @property
    def sandbox_dir(self) -> Path:
        """The sandbox's certificate and address, so a bot in another process can find it."""
        return self.runtime_dir / "sandbox"
