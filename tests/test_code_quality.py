"""The code stays ruff- and mypy-clean: the same checks a reviewer would run, as part of the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_nothing() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "typecheck.py")], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_layout_imports_only_under_the_quranbot_namespace() -> None:
    """audio/, cli/, tui/ and data/ are quranbot.audio etc.; no generic top-level modules leak out."""
    probe = (
        "import importlib.util as u, quranbot.audio, quranbot.cli.app, quranbot.tui, quranbot.data;"
        "print([n for n in ('audio', 'cli', 'tui', 'data') if u.find_spec(n) is not None])"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd="/", capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_every_package_is_listed_for_installation() -> None:
    """A package missing from pyproject's list works in a checkout but is absent from a real install."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping: dict[str, str] = config["package-dir"]
    found = set()
    for name, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            found.add(".".join([name, *init.parent.relative_to(ROOT / folder).parts]))
    assert found == set(config["packages"])
