"""The systemd unit, checked with systemd's own tools, and the one hardening setting that could break
the bot (W^X memory) checked for real.

A real systemd PID 1 is not available in these containers, so the unit is verified offline here;
booting it in a container is the appliance issue's system stage.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from processes import QURANBOT, start_quranbot, stop_quranbot

from quranbot.paths import Paths
from quranbot.sandbox.server import Sandbox

UNIT = Path(__file__).parent.parent / "systemd" / "quranbot.service"


def rendered_unit(directory: Path) -> Path:
    """The unit with ExecStart pointing at this checkout's `quranbot` (verify wants an executable there)."""
    path = directory / "quranbot.service"
    executable = Path(sys.executable).parent / "quranbot"
    path.write_text(UNIT.read_text().replace("/usr/local/bin/quranbot", str(executable)))
    return path


def settings(unit: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def test_systemd_analyze_verify_is_silent(tmp_path: Path) -> None:
    # verify exits 0 even for unknown keys and typos; only its stderr tells.
    result = subprocess.run(["systemd-analyze", "verify", str(rendered_unit(tmp_path))],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_security_exposure_is_at_most_2(tmp_path: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(rendered_unit(tmp_path))],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    match = re.search(r"Overall exposure level for quranbot\.service: ([0-9.]+)", result.stdout)
    assert match is not None, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0, result.stdout


def test_unit_matches_where_the_bot_keeps_its_files() -> None:
    unit = settings(UNIT.read_text())
    system = Paths.system()
    assert unit["Type"] == ["notify"] and unit["WatchdogSec"] == ["30"]
    assert unit["ConfigurationDirectory"] == [system.config_dir.name]
    assert unit["StateDirectory"] == [system.state_dir.name] and system.state_dir.parent == Path("/var/lib")
    assert unit["RuntimeDirectory"] == [system.runtime_dir.name] and system.runtime_dir.parent == Path("/run")
    assert unit["LoadCredential"] == [f"token:{system.token_file}"]
    assert unit["ExecStart"] == ["/usr/local/bin/quranbot run --token-file %d/token"]
    assert unit["MemoryDenyWriteExecute"] == ["yes"]


async def test_the_bot_recites_under_the_kernels_w_x_rule(sandbox: Sandbox, home: Path) -> None:
    """MemoryDenyWriteExecute=yes forbids memory that is writable and executable. The kernel's
    PR_SET_MDWE (Linux 6.3+) enforces the same rule on a process; the bot must recite under it
    (libopus, libsodium and Python's ctypes all included)."""
    wrapper = (
        "import ctypes, runpy, sys; "
        "libc = ctypes.CDLL(None, use_errno=True); "
        "assert libc.prctl(65, 1, 0, 0, 0) == 0, 'PR_SET_MDWE failed'; "  # PR_SET_MDWE, REFUSE_EXEC_GAIN
        "assert libc.prctl(66, 0, 0, 0, 0) & 1, 'PR_GET_MDWE'; "
        "sys.argv = ['quranbot'] + sys.argv[1:]; runpy.run_module('quranbot', run_name='__main__')"
    )
    assert QURANBOT[1:] == ["-m", "quranbot"]
    channel = str(sandbox.default.voice.id)
    args = ["--home", str(home), "run", "--sandbox", sandbox.url, "--sandbox-cert", str(sandbox.cert_file),
            "--token-file", str(sandbox.directory / "token"), "--voice-channel", channel]  # fmt: skip
    listener = sandbox.listener(sandbox.default.voice)
    bot = await start_quranbot(*args, python_args=["-c", wrapper])
    await listener.wait_for_packets(100, timeout=20)
    code, _, err = await stop_quranbot(bot)
    assert code == 0, err
    assert listener.stats().lost_packets == 0


# -- the shards' template unit: quranbot@N.service runs shard N --------------------------------------------

SHARD_UNIT = UNIT.with_name("quranbot@.service")


def rendered_shard_unit(directory: Path, shard: int) -> Path:
    """An instance of the template as systemd would load it (verify and security want an instance)."""
    path = directory / f"quranbot@{shard}.service"
    executable = Path(sys.executable).parent / "quranbot"
    path.write_text(SHARD_UNIT.read_text().replace("/usr/local/bin/quranbot", str(executable)))
    return path


def test_the_shard_template_verifies_silently(tmp_path: Path) -> None:
    result = subprocess.run(["systemd-analyze", "verify", str(rendered_shard_unit(tmp_path, 1))],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_the_shard_template_is_hardened_like_the_unit(tmp_path: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(rendered_shard_unit(tmp_path, 1))],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    match = re.search(r"Overall exposure level for quranbot@1\.service: ([0-9.]+)", result.stdout)
    assert match is not None, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0, result.stdout
    same = {"ExecStart", "Description", "RuntimeDirectory"}
    ours, theirs = settings(SHARD_UNIT.read_text()), settings(UNIT.read_text())
    assert {k: v for k, v in ours.items() if k not in same} == {
        k: v for k, v in theirs.items() if k not in same
    }


def test_each_shard_instance_runs_its_shard_where_the_bot_looks_for_it() -> None:
    unit = settings(SHARD_UNIT.read_text())
    system = Paths.system()
    assert unit["ExecStart"] == ["/usr/local/bin/quranbot run --token-file %d/token --shard-ids %i"]
    # the shards share the state root (the audio library) and keep their own guilds in shard-N/ inside
    assert unit["StateDirectory"] == [system.state_root.name]
    assert system.for_shard(3).state_dir == Path("/var/lib/quranbot/shard-3")
    # each its own runtime directory: stopping one shard never removes another's socket
    assert unit["RuntimeDirectory"] == ["quranbot/shard-%i"]
    assert system.for_shard(3).control_socket == Path("/run/quranbot/shard-3/control.sock")
    assert system.for_shard(None).control_socket == Path("/run/quranbot/control.sock"), "unsharded: as ever"
