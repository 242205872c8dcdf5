"""Type-check the `quranbot` namespace with mypy.

`audio/`, `cli/`, `tui/` and `data/` install as `quranbot.audio` and so on (a setuptools package-dir
mapping that mypy cannot follow), so mypy checks a mirror: a temporary `quranbot/` of symlinks that puts
each folder where its import name says. Run: `.venv/bin/python tools/typecheck.py`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAPPED = {"audio": "audio", "cli": "cli", "tui": "tui", "data": "data"}


def build_mirror(target: Path) -> Path:
    package = target / "quranbot"
    package.mkdir()
    for entry in (ROOT / "quranbot").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for name, folder in MAPPED.items():
        (package / name).symlink_to(ROOT / folder)
    return package


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="quranbot-mypy-") as tmp:
        build_mirror(Path(tmp))
        command = [
            sys.executable, "-m", "mypy",
            "--config-file", str(ROOT / "pyproject.toml"),
            "--cache-dir", str(ROOT / ".mypy_cache"),
            "-p", "quranbot",
        ]  # fmt: skip
        result = subprocess.run(
            command, cwd=tmp, env={**os.environ, "MYPYPATH": tmp}, text=True, capture_output=True
        )
        # Show paths as they are in the repository, not in the mirror.
        output = (result.stdout + result.stderr).replace(f"{tmp}/quranbot/", "")
        for name, folder in MAPPED.items():
            output = output.replace(f"quranbot/{name}/", f"{folder}/")
        print(output, end="")
        return result.returncode


if __name__ == "__main__":
    sys.exit(main())
