"""install.sh: flags, refusals and the checks that run before anything is installed.

Every case here stops before the apt and pip steps (the os-release and Python checks and the
confirmation come first), so the tests are fast and leave the machine alone. The system install,
its re-run, --uninstall and --purge are run for real in the system stage (tests/system).
"""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
from pathlib import Path

import pytest

INSTALL_SH = Path(__file__).resolve().parent.parent / "install.sh"

DEBIAN_OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
UBUNTU_DERIVATIVE_OS_RELEASE = 'PRETTY_NAME="Linux Mint 22"\nID=linuxmint\nID_LIKE="ubuntu debian"\n'
FEDORA_OS_RELEASE = 'NAME="Fedora Linux"\nPRETTY_NAME="Fedora Linux 40"\nID=fedora\nVERSION_ID=40\n'

APT_OR_PIP_MARKERS = ("Debian packages", "apt-get", "virtual environment", "pip")
#: What the system modes print once they change something.
CHANGE_MARKERS = (*APT_OR_PIP_MARKERS, "Creating", "Removing", "Stopping", "Re-running as root", "backup")


def run_install(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    script: Path = INSTALL_SH,
    stdin: int = subprocess.DEVNULL,
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        ["bash", str(script), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=full_env,
        cwd=cwd,
        stdin=stdin,
    )


def answer_on_a_terminal(answer: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """install.sh with a terminal on stdin (it only asks on one), typing `answer` and Enter."""
    controller, terminal = pty.openpty()
    try:
        os.write(controller, answer.encode() + b"\n")
        return run_install(*args, env=env, stdin=terminal)
    finally:
        os.close(terminal)
        os.close(controller)


@pytest.fixture
def os_release(tmp_path: Path) -> Path:
    path = tmp_path / "os-release"
    path.write_text(DEBIAN_OS_RELEASE)
    return path


@pytest.fixture
def python_39(tmp_path: Path) -> Path:
    """A fake interpreter that claims to be Python 3.9 whatever it is asked."""
    path = tmp_path / "python3.9"
    path.write_text('#!/bin/sh\necho "Python 3.9.0"\n')
    path.chmod(0o755)
    return path


def test_bash_syntax() -> None:
    result = subprocess.run(["bash", "-n", str(INSTALL_SH)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_the_flags(flag: str) -> None:
    result = run_install(flag)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    for option in ("--dev", "--unattended", "--uninstall", "--purge", "--help"):
        assert option in result.stdout
    for place in ("/opt/quranbot", "/usr/local/bin/quranbot", "/etc/quranbot", "/var/lib/quranbot"):
        assert place in result.stdout


def test_unknown_flag_is_refused_with_usage() -> None:
    result = run_install("--frobnicate")
    assert result.returncode != 0
    assert "error:" in result.stderr
    assert "--frobnicate" in result.stderr
    assert "Usage:" in result.stderr


def test_unexpected_argument_is_refused() -> None:
    result = run_install("stray")
    assert result.returncode != 0
    assert "stray" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--purge"], "--purge only goes with --uninstall"),
        (["--purge", "--unattended"], "--purge only goes with --uninstall"),
        (["--dev", "--uninstall"], "--dev and --uninstall do not go together"),
    ],
)
def test_flags_that_do_not_go_together_are_refused(args: list[str], message: str) -> None:
    result = run_install(*args)
    assert result.returncode == 2
    assert f"error: {message}" in result.stderr
    assert "Usage:" in result.stderr
    assert not any(marker in result.stdout for marker in CHANGE_MARKERS)


@pytest.mark.parametrize("flags", [[], ["--unattended"]])
def test_system_mode_refuses_a_non_debian_system(os_release: Path, flags: list[str]) -> None:
    os_release.write_text(FEDORA_OS_RELEASE)
    result = run_install(*flags, env={"QURANBOT_OS_RELEASE": str(os_release)})
    assert result.returncode == 1
    assert "unsupported operating system: Fedora Linux 40" in result.stderr
    assert "Debian and Ubuntu" in result.stderr
    assert not any(marker in result.stdout + result.stderr for marker in CHANGE_MARKERS)


@pytest.mark.parametrize("flags", [[], ["--uninstall"], ["--uninstall", "--purge"]])
def test_system_modes_ask_first_and_refuse_without_a_terminal(os_release: Path, flags: list[str]) -> None:
    """No --unattended and nobody to ask (CI, a pipe): refuse, naming the flag, before any change."""
    result = run_install(*flags, env={"QURANBOT_OS_RELEASE": str(os_release)})
    assert result.returncode == 1
    assert "cannot ask for confirmation: standard input is not a terminal" in result.stderr
    assert "--unattended" in result.stderr
    assert not any(marker in result.stdout + result.stderr for marker in CHANGE_MARKERS)


@pytest.mark.parametrize(
    ("answer", "flags", "question"),
    [
        ("n", [], "Install QuranBot system-wide"),
        ("", ["--uninstall"], "Remove QuranBot's service"),  # Enter: the default is no
        ("no", ["--uninstall", "--purge"], "DELETE /etc/quranbot and /var/lib/quranbot"),
    ],
)
def test_answering_no_changes_nothing(os_release: Path, answer: str, flags: list[str], question: str) -> None:
    result = answer_on_a_terminal(answer, *flags, env={"QURANBOT_OS_RELEASE": str(os_release)})
    assert result.returncode == 1
    assert question in result.stderr  # read -p prompts on stderr
    assert "Nothing was changed." in result.stdout
    assert not any(marker in result.stdout for marker in CHANGE_MARKERS)


def test_system_mode_must_run_from_the_repository(tmp_path: Path, os_release: Path) -> None:
    """It installs this checkout: a copy of install.sh on its own has nothing to install."""
    copy = tmp_path / "install.sh"
    shutil.copy(INSTALL_SH, copy)
    result = run_install("--unattended", env={"QURANBOT_OS_RELEASE": str(os_release)}, script=copy)
    assert result.returncode == 1
    assert "must be run from the QuranBot repository" in result.stderr
    assert not any(marker in result.stdout + result.stderr for marker in CHANGE_MARKERS)


def test_dev_refuses_a_non_debian_system(tmp_path: Path, os_release: Path) -> None:
    os_release.write_text(FEDORA_OS_RELEASE)
    result = run_install("--dev", env={"QURANBOT_OS_RELEASE": str(os_release)}, cwd=tmp_path)
    assert result.returncode != 0
    assert "error:" in result.stderr
    assert "unsupported operating system" in result.stderr
    assert "Fedora" in result.stderr
    assert "Debian and Ubuntu" in result.stderr
    assert not any(marker in result.stdout + result.stderr for marker in APT_OR_PIP_MARKERS)


def test_dev_refuses_a_missing_os_release(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-os-release"
    result = run_install("--dev", env={"QURANBOT_OS_RELEASE": str(missing)})
    assert result.returncode != 0
    assert str(missing) in result.stderr


@pytest.mark.parametrize("content", [DEBIAN_OS_RELEASE, UBUNTU_DERIVATIVE_OS_RELEASE])
def test_dev_refuses_an_old_python_before_any_install_step(
    tmp_path: Path, os_release: Path, python_39: Path, content: str
) -> None:
    """Debian, or a derivative through ID_LIKE, passes the OS check; Python 3.9 then stops the run."""
    os_release.write_text(content)
    result = run_install(
        "--dev",
        env={"QURANBOT_OS_RELEASE": str(os_release), "PYTHON": str(python_39)},
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "3.11" in result.stderr
    assert "Python 3.9.0" in result.stderr
    assert "Checking the operating system" in result.stdout
    assert not any(marker in result.stdout + result.stderr for marker in APT_OR_PIP_MARKERS)


def test_dev_refuses_a_missing_python(tmp_path: Path, os_release: Path) -> None:
    missing = tmp_path / "no-such-python"
    result = run_install("--dev", env={"QURANBOT_OS_RELEASE": str(os_release), "PYTHON": str(missing)})
    assert result.returncode != 0
    assert str(missing) in result.stderr
    assert "3.11" in result.stderr


def test_dev_must_run_from_the_repository(tmp_path: Path, os_release: Path, python_39: Path) -> None:
    """A copy of install.sh outside the repository refuses --dev: the project root is the script's dir."""
    copy = tmp_path / "install.sh"
    shutil.copy(INSTALL_SH, copy)
    result = run_install(
        "--dev",
        env={"QURANBOT_OS_RELEASE": str(os_release), "PYTHON": str(python_39)},
        script=copy,
    )
    assert result.returncode != 0
    assert "repository" in result.stderr
    assert str(tmp_path) in result.stderr
